// A main() for the fuzz targets when they are not built with libFuzzer (gcc, CI): runs
// LLVMFuzzerTestOneInput once on every file given, or on every regular file under every
// directory given (recursively, in sorted order), and prints "replayed N inputs".
//
//   fuzz_record_replay tests/fuzz/corpus/record [more dirs or files...]
//
// Exit status: 0 when every input ran; 2 on a usage error, an unreadable path or when no input
// was found (an empty corpus must not pass silently). A violated invariant traps inside
// LLVMFuzzerTestOneInput; a signal handler names the input that was running first.
#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

// The input being run, for the crash handler (async-signal-safe: only write()).
char current_input[4096];

void write_str(const char* s) {
    const std::size_t n = std::strlen(s);
    if (::write(STDERR_FILENO, s, n) < 0) {
    }
}

extern "C" void on_crash(int sig) {
    write_str("\nfuzz replay: crashed on input ");
    write_str(current_input);
    write_str("\n");
    std::signal(sig, SIG_DFL);  // SA_RESETHAND already did; re-raise for the right status
    std::raise(sig);
}

void install_crash_handler() {
    // An alternate stack, so that a stack overflow (deep recursion) is reported too.
    static std::vector<char> alt(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP}) sigaction(sig, &sa, nullptr);
}

bool collect(const fs::path& arg, std::vector<fs::path>& out) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
        std::vector<fs::path> files;
        for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec))
            if (it->is_regular_file(ec)) files.push_back(it->path());
        if (ec) {
            std::fprintf(stderr, "fuzz replay: %s: %s\n", arg.c_str(), ec.message().c_str());
            return false;
        }
        std::sort(files.begin(), files.end());
        out.insert(out.end(), files.begin(), files.end());
        return true;
    }
    if (fs::is_regular_file(arg, ec)) {
        out.push_back(arg);
        return true;
    }
    std::fprintf(stderr, "fuzz replay: %s: not a file or directory\n", arg.c_str());
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i)
        if (!collect(argv[i], inputs)) return 2;
    if (inputs.empty()) {
        std::fprintf(stderr, "fuzz replay: no inputs found\n");
        return 2;
    }
    install_crash_handler();
    std::size_t n = 0;
    for (const fs::path& p : inputs) {
        std::snprintf(current_input, sizeof current_input, "%s", p.c_str());
        std::ifstream in(p, std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) {
            std::fprintf(stderr, "fuzz replay: cannot read %s\n", p.c_str());
            return 2;
        }
        // A copy of exactly `size` bytes on the heap, as libFuzzer does, so that a read past
        // the end is visible to sanitizers.
        auto* data = static_cast<std::uint8_t*>(std::malloc(bytes.size() ? bytes.size() : 1));
        std::copy(bytes.begin(), bytes.end(), data);
        LLVMFuzzerTestOneInput(data, bytes.size());
        std::free(data);
        ++n;
    }
    std::printf("replayed %zu inputs\n", n);
    return 0;
}
