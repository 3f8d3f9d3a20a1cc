// File: test/checkers/planted_bug.h
//
// PURPOSE: what the planted-bug programs of test/checkers share: the pool
// they plant the bug in (slot_pool_resource, or with CHECKER_SYNCHRONIZED
// synchronized_slot_pool_resource), the thread the buggy call runs on (the
// same one, or for the synchronized pool another one), and the exit
// conventions CTest's expectations rely on.
#pragma once

#include <protopool/slot_pool_resource.h>
#include <protopool/synchronized_slot_pool_resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#ifndef CHECKER_SYNCHRONIZED
#define CHECKER_SYNCHRONIZED 0
#endif

namespace checker {

#if CHECKER_SYNCHRONIZED
using pool_type = protopool::synchronized_slot_pool_resource;
#else
using pool_type = protopool::slot_pool_resource;
#endif

// CTest counts a signal as a crash, never as the expected failure: turn a
// checked-build diagnosis's abort() into exit status 134.
inline void abort_exits_with_134() {
  std::signal(SIGABRT, [](int) { ::_exit(134); });
}

// Runs the planted bug: on this thread, or for the synchronized pool on a
// thread of its own (a cross-thread free is that pool's reason to exist).
template <class Bug>
void on_the_bug_thread(Bug bug) {
#if CHECKER_SYNCHRONIZED
  std::thread(bug).join();
#else
  bug();
#endif
}

// Reached only if nothing caught the bug: say so, and exit 0 (the tests
// expect a tool's report or a failing exit).
inline int not_detected(const char* program) {
  std::printf("%s%s: not detected\n", CHECKER_SYNCHRONIZED ? "sync_" : "",
              program);
  return 0;
}

}  // namespace checker
