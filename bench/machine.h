// File: bench/machine.h
//
// PURPOSE: name the machine a benchmark runs on, for the report: the
// benchmark writes it into its TSV file, so a report written again later,
// elsewhere, still names the machine that measured.
//
// FUNCTIONS:
//   protopool::bench::cpu_model()
//       "AMD EPYC (cpu family 26, model 2)"
//   protopool::bench::machine_description()
//       "2 CPUs (nproc), " followed by cpu_model()
#pragma once

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>

namespace protopool::bench {

// The CPU's name, with its family and model where /proc/cpuinfo gives them:
// "AMD EPYC" names several generations, and their ratios differ (on family
// 26 the two virtual calls of a pmr allocation cost about 1.6 ns, twice the
// hand-inlined floor's whole message).
inline std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::map<std::string, std::string> fields;
  std::string line;
  while (std::getline(cpuinfo, line) && !line.empty()) {  // first CPU only
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    fields[std::string(absl::StripAsciiWhitespace(line.substr(0, colon)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  std::string model =
      fields.count("model name") ? fields["model name"] : "unknown CPU";
  if (fields.count("cpu family") && fields.count("model")) {
    model += " (cpu family " + fields["cpu family"] + ", model " +
             fields["model"] + ")";
  }
  return model;
}

inline std::string machine_description() {
  return absl::StrCat(std::thread::hardware_concurrency(), " CPUs (nproc), ",
                      cpu_model());
}

}  // namespace protopool::bench
