// File: test/support/scoped_env.h
//
// PURPOSE: set an environment variable (PROTOPOOL_QUARANTINE,
// PROTOPOOL_PASS_THROUGH, ...) for the life of a scope, so a test can make
// a pool that reads it and leave the process as it found it.
//
// CLASSES:
//   protopool::testing::scoped_env  sets a variable, restores it at scope
//                                   exit (its old value, or unset)
//
// USAGE:
//   const protopool::testing::scoped_env quarantine("PROTOPOOL_QUARANTINE",
//                                                   "4");
//   protopool::slot_pool_resource pool(options);  // reads it once
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace protopool::testing {

// Sets an environment variable for the life of a scope; nested scopes of the
// same variable restore each other's values.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_value_ = old;
    }
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (old_value_) {
      ::setenv(name_, old_value_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_value_;
};

}  // namespace protopool::testing
