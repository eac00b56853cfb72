// Shared by the fuzz targets: invariant checks that stop the process with __builtin_trap() (so
// libFuzzer, and the replay driver under ctest, see a crash) after saying which one failed.
#pragma once

#include <cstdio>
#include <exception>
#include <string_view>

namespace casehub::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what,
                              std::string_view detail = {}) {
    std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
    if (!detail.empty())
        std::fprintf(stderr, "  detail: %.*s\n", static_cast<int>(detail.size()), detail.data());
    std::fflush(stderr);
    __builtin_trap();
}

// "One line": no line feed and no carriage return (either splits a log line).
constexpr bool one_line(std::string_view s) noexcept {
    return s.find('\n') == std::string_view::npos && s.find('\r') == std::string_view::npos;
}

// Runs `body`; an exception escaping it is a violation ("never throws").
template <class F>
void never_throws(const char* file, int line, F&& body) {
    try {
        body();
    } catch (const std::exception& e) {
        fail(file, line, "an exception escaped", e.what());
    } catch (...) {
        fail(file, line, "an exception escaped (not a std::exception)");
    }
}

}  // namespace casehub::fuzz

#define FUZZ_CHECK(cond, ...)                                                             \
    do {                                                                                  \
        if (!(cond)) ::casehub::fuzz::fail(__FILE__, __LINE__, #cond __VA_OPT__(, ) __VA_ARGS__); \
    } while (0)

#define FUZZ_NEVER_THROWS(...) ::casehub::fuzz::never_throws(__FILE__, __LINE__, __VA_ARGS__)
