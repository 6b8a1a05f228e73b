// Where flowcorder's data files are (experiments/, testbed/mininet/,
// testbed/validate/plot_report.py), found at run time: no binary carries
// the path of the tree it was built from.
#pragma once

#include <string>

namespace fc::common {

// The first of these that holds experiments/: $FC_DATA_DIR; the directory
// above the running executable's (build/flowcorder in a source tree);
// <prefix>/share/flowcorder for an executable in <prefix>/bin; the current
// directory. "" when none does (callers say what they were looking for).
std::string data_dir();

}  // namespace fc::common
