// Test harness for integration tests: real casehubd and runner processes, a real SQLite store,
// real sockets. Everything lives in a fresh temporary directory per test.
#pragma once

#include "../support/process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <zmq.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace casehub::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline fs::path bin(const std::string& rel) { return fs::path(CASEHUB_BINARY_DIR) / rel; }

struct TempDir {
    fs::path path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "casehub-it-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~TempDir() {
        std::error_code ec;
        if (!std::getenv("CASEHUB_KEEP_TEST_DIRS")) fs::remove_all(path, ec);
    }
};

// Polls `pred` until true or `timeout`; returns the last value.
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = 20ms) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(step);
    }
    return pred();
}

// casehubd as a child process, output to <dir>/casehubd.log.
class Hub {
public:
    Hub(fs::path dir, std::string toml) : dir_(std::move(dir)) { configure(toml); }
    // Rewrites hub.toml (takes effect at the next start).
    void configure(const std::string& toml) { std::ofstream(dir_ / "hub.toml") << toml; }
    ~Hub() { kill9(); }

    void start() {
        REQUIRE(pid_ <= 0);
        pid_ = ::fork();
        if (pid_ == 0) {
            std::string log = (dir_ / "casehubd.log").string();
            FILE* f = std::freopen(log.c_str(), "a", stdout);
            (void)f;
            ::dup2(::fileno(stdout), 2);
            std::string exe = bin("bin/casehubd").string();
            std::string cfg = (dir_ / "hub.toml").string();
            ::execl(exe.c_str(), exe.c_str(), "--config", cfg.c_str(), "--runner",
                    bin("bin/casehub-runner").c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        REQUIRE(pid_ > 0);
    }
    void kill9() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = 0;
        }
    }
    // SIGTERM, then the exit status (-1 if it had to be killed after `timeout`).
    int terminate(std::chrono::milliseconds timeout = 15s) {
        ::kill(pid_, SIGTERM);
        auto end = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (std::chrono::steady_clock::now() < end) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = 0;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(10ms);
        }
        kill9();
        return -1;
    }
    bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
    pid_t pid() const { return pid_; }

    // `casehub status --json` over the control socket; null when the hub does not answer.
    nlohmann::json status(std::chrono::milliseconds timeout = 2s) {
        zmq::socket_t s(ctx_, zmq::socket_type::req);
        s.set(zmq::sockopt::linger, 0);
        s.connect("ipc://" + (dir_ / "var/control.sock").string());
        s.send(zmq::buffer(std::string(R"({"cmd":"status"})")));
        zmq::pollitem_t it{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
        zmq::poll(&it, 1, timeout);
        zmq::message_t m;
        if (!(it.revents & ZMQ_POLLIN) || !s.recv(m)) return nullptr;
        return nlohmann::json::parse(m.to_string_view(), nullptr, false);
    }
    nlohmann::json adapter(const std::string& id) {
        auto st = status();
        if (!st.is_object()) return nullptr;
        for (auto& a : st["adapters"])
            if (a["id"] == id) return a;
        return nullptr;
    }
    std::string log() const {
        std::ifstream in(dir_ / "casehubd.log");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    fs::path db() const { return dir_ / "var/casehub.db"; }

private:
    fs::path dir_;
    pid_t pid_ = 0;
    zmq::context_t ctx_{1};
};

// The test plugin's records are near-identical (same category, grid and time, text differing by
// a number): tests of the hub's mechanics that count one case per record turn correlation off.
inline const std::string kNoCorrelation = "[correlation]\nenabled = false\n";

// A TOML config for tests: fast supervisor timings (overridable by `supervisor_extra`);
// adapters appended by the caller; `extra` sections before them.
inline std::string hub_toml(const std::string& supervisor_extra = "", const std::string& adapters = "",
                            const std::string& extra = "") {
    std::string sup = supervisor_extra;
    for (const char* kv : {"heartbeat_ms = 200", "hang_timeout_ms = 2000", "stop_timeout_ms = 3000"}) {
        std::string key(kv, std::string_view(kv).find(' '));
        if (supervisor_extra.find(key) == std::string::npos) sup += std::string(kv) + "\n";
    }
    return "[hub]\ndata_dir = \"var\"\nplugin_path = [\"" + std::string(CASEHUB_TEST_PLUGIN_DIR) +
           "\", \"" + std::string(CASEHUB_PLUGIN_DIR) + "\"]\nlog_level = \"info\"\nreference_dir = \"" + std::string(CASEHUB_SOURCE_DIR) +
           "/config/qinhuai\"\nsystems = [\"seq\", \"hello\"]\n[supervisor]\n" + sup +
           "\n[flow]\ncommit_max_delay_ms = 10\n" + extra + adapters;
}

// hub_toml for the seq test plugin with correlation off (see kNoCorrelation).
inline std::string hub_toml_uncorrelated(const std::string& adapters) { return hub_toml("", adapters, kNoCorrelation); }

// One-shot SQL query returning the first column of every row as text.
inline std::vector<std::string> query(const fs::path& db, const std::string& sql) {
    std::vector<std::string> out;
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(h);
        return out;
    }
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            auto* t = sqlite3_column_text(st, 0);
            out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}
inline long long query_int(const fs::path& db, const std::string& sql) {
    auto r = query(db, sql);
    return r.empty() || r[0].empty() ? -1 : std::stoll(r[0]);
}

// `casehub --config <dir>/hub.toml <args...>`
inline Run casehub_cli(const fs::path& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {bin("bin/casehub").string(), "--config", (dir / "hub.toml").string()});
    return run(args);
}

}  // namespace casehub::test
