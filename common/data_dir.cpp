#include "data_dir.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace fc::common {

namespace fs = std::filesystem;

std::string data_dir() {
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("FC_DATA_DIR"); env && *env) candidates.emplace_back(env);
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        const fs::path dir = fs::path(std::string(exe, static_cast<size_t>(n))).parent_path();
        candidates.push_back(dir.parent_path());
        candidates.push_back(dir.parent_path() / "share" / "flowcorder");
    }
    std::error_code ec;
    candidates.push_back(fs::current_path(ec));
    for (const auto& c : candidates)
        if (!c.empty() && fs::is_directory(c / "experiments", ec)) return c.string();
    return "";
}

}  // namespace fc::common
