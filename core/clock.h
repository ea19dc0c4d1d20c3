/* core/clock.h — the one monotonic clock every deadline, timeout and rate in aha uses. */
#ifndef AHA_CORE_CLOCK_H
#define AHA_CORE_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC (arbitrary origin; only differences mean something). */
double aha_now_ms(void);

#endif
