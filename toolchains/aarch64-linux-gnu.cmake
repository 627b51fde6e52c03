# Cross build for 64-bit ARM (arm64) with Debian multiarch:
#   dpkg --add-architecture arm64; apt-get install crossbuild-essential-arm64 qemu-user
#   and the :arm64 -dev packages of every dependency (make arm64 does this).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(WHAGENT_TRIPLET aarch64-linux-gnu)
set(WHAGENT_DEB_ARCH arm64)
set(WHAGENT_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
