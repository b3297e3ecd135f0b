// Portable builds only (CMake's CUDA_SSIM_PORTABLE): what lets a binary linked on a new
// toolchain load on glibc 2.28. (libgcc stays the system's libgcc_s.so.1: the static unwinder of
// GCC 12 needs glibc 2.35's _dl_find_object.)
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

extern "C" {
// The static libstdc++ of GCC >= 11 reads this glibc 2.32 variable to skip atomic reference
// counting in single-threaded processes. Our own copy, hidden and always 0 ("maybe several
// threads"), keeps the atomics, which is always correct, and asks nothing of glibc.
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;

// glibc 2.36's arc4random, which the static libstdc++'s std::random_device refers to (linked in
// through the CUDA runtime's strings, never called by us): getrandom (glibc 2.25), else
// /dev/urandom.
__attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t value = 0;
  ssize_t got;
  do got = getrandom(&value, sizeof value, 0);
  while (got < 0 && errno == EINTR);
  if (got == ssize_t(sizeof value)) return value;
  const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &value, sizeof value) != ssize_t(sizeof value)) value = 0;
    close(fd);
  }
  return value;
}
}

// glibc 2.29 gave exp() and pow() new symbol versions (no SVID error handling); those of glibc 2.2.5
// have the same results for the finite arguments passed here (the Gaussian window's exp, MS-SSIM's
// per-scale powers). The link wraps every reference (-Wl,--wrap=exp,--wrap=pow) into these, bound
// to the old versions.
__asm__(".symver exp_glibc_2_2_5, exp@GLIBC_2.2.5");
extern "C" double exp_glibc_2_2_5(double);
extern "C" double __wrap_exp(double x) { return exp_glibc_2_2_5(x); }
__asm__(".symver pow_glibc_2_2_5, pow@GLIBC_2.2.5");
extern "C" double pow_glibc_2_2_5(double, double);
extern "C" double __wrap_pow(double x, double y) { return pow_glibc_2_2_5(x, y); }
