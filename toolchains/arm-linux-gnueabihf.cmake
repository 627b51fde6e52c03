# Cross build for 32-bit ARM hard-float (armhf) with Debian multiarch:
#   dpkg --add-architecture armhf; apt-get install crossbuild-essential-armhf qemu-user
#   and the :armhf -dev packages of every dependency (make armhf does this).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(WHAGENT_TRIPLET arm-linux-gnueabihf)
set(WHAGENT_DEB_ARCH armhf)
set(WHAGENT_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
