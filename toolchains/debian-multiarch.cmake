# Shared part of the Debian multiarch toolchain files: the triplet's compilers, pkg-config for
# the target's libraries only, find modes that never pick a host library, and qemu-user (with
# the target's loader and libraries from /) as the emulator ctest runs the binaries with.
set(CMAKE_C_COMPILER ${WHAGENT_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${WHAGENT_TRIPLET})

# Target libraries live in /usr/lib/TRIPLET; headers are shared in /usr/include.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # build tools (protoc-c) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
execute_process(COMMAND dpkg-architecture -qDEB_BUILD_MULTIARCH
    OUTPUT_VARIABLE _host_multiarch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(_host_multiarch)
    set(CMAKE_SYSTEM_IGNORE_PATH /usr/lib/${_host_multiarch} /lib/${_host_multiarch})
endif()

# pkg-config sees only the target's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${WHAGENT_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

set(CMAKE_CROSSCOMPILING_EMULATOR ${WHAGENT_QEMU};-L;/)
