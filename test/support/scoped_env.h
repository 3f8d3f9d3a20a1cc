// File: test/support/scoped_env.h
//
// PURPOSE: set an environment variable (PROTOPOOL_QUARANTINE,
// PROTOPOOL_PASS_THROUGH, ...) for the life of a scope, so a test can make
// a pool that reads it and leave the process as it found it.
//
// CLASSES:
//   protopool::testing::scoped_env  sets a variable, unsets it at scope exit
//
// USAGE:
//   const protopool::testing::scoped_env quarantine("PROTOPOOL_QUARANTINE",
//                                                   "4");
//   protopool::slot_pool_resource pool(options);  // reads it once
#pragma once

#include <cstdlib>

namespace protopool::testing {

// Sets an environment variable for the life of a scope.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    ::setenv(name, value, 1);
  }
  ~scoped_env() { ::unsetenv(name_); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
};

}  // namespace protopool::testing
