// A department simulator (tools/simulators/casehub-sim) as a child process of a test.
//
//   Simulator sim("dcm", dir, {"--rate", "600", "--count", "40"});
//   sim.ready()["port"]   // what the simulator wrote to its --ready-file once it serves
//   sim.truth()           // ground truth lines written so far (--truth file)
//
// Output goes to <dir>/sim-<dept>.log. The process is killed (SIGKILL) on destruction.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace casehub::test {

inline std::string simulator_python() { return "/usr/bin/python3"; }
inline std::filesystem::path simulator_script() {
    return std::filesystem::path(CASEHUB_SOURCE_DIR) / "tools/simulators/casehub-sim";
}

class Simulator {
public:
    // Starts `casehub-sim <dept> --seed 7 --ready-file .. --truth .. <args>`; waits for ready.
    Simulator(std::string dept, std::filesystem::path dir, std::vector<std::string> args,
              std::chrono::milliseconds ready_timeout = std::chrono::seconds(20))
        : dept_(std::move(dept)), dir_(std::move(dir)) {
        ready_file_ = dir_ / ("sim-" + dept_ + ".ready");
        truth_file_ = dir_ / ("sim-" + dept_ + ".truth.jsonl");
        std::filesystem::remove(ready_file_);
        std::vector<std::string> argv{simulator_python(), simulator_script().string(), dept_,
                                      "--ready-file", ready_file_.string(),
                                      "--truth", truth_file_.string()};
        bool has_seed = false;
        for (auto& a : args) has_seed |= a == "--seed";
        if (!has_seed) argv.insert(argv.end(), {"--seed", "7"});
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            std::string log = (dir_ / ("sim-" + dept_ + ".log")).string();
            if (std::freopen(log.c_str(), "a", stdout) == nullptr) ::_exit(126);
            ::dup2(::fileno(stdout), 2);
            std::vector<char*> v;
            for (auto& a : argv) v.push_back(a.data());
            v.push_back(nullptr);
            ::execv(v[0], v.data());
            ::_exit(127);
        }
        auto end = std::chrono::steady_clock::now() + ready_timeout;
        while (std::chrono::steady_clock::now() < end) {
            if (std::filesystem::exists(ready_file_)) {
                std::ifstream in(ready_file_);
                ready_ = nlohmann::json::parse(in, nullptr, false);
                if (ready_.is_object()) return;
            }
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = 0;
                FAIL("simulator " << dept_ << " exited before it was ready:\n" << log());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        FAIL("simulator " << dept_ << " not ready after " << ready_timeout.count() << " ms:\n"
                          << log());
    }
    ~Simulator() { kill9(); }
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    void kill9() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = 0;
        }
    }
    const nlohmann::json& ready() const { return ready_; }
    int port() const { return ready_.value("port", 0); }
    pid_t pid() const { return pid_; }

    // Every ground-truth line written so far (one per record the simulator created).
    std::vector<nlohmann::json> truth() const {
        std::vector<nlohmann::json> out;
        std::ifstream in(truth_file_);
        std::string line;
        while (std::getline(in, line))
            if (!line.empty()) out.push_back(nlohmann::json::parse(line));
        return out;
    }
    std::string log() const {
        std::ifstream in(dir_ / ("sim-" + dept_ + ".log"));
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    const std::filesystem::path& truth_file() const { return truth_file_; }

private:
    std::string dept_;
    std::filesystem::path dir_, ready_file_, truth_file_;
    nlohmann::json ready_;
    pid_t pid_ = 0;
};

}  // namespace casehub::test
