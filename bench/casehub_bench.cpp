// casehub-bench: the real system end to end (casehubd, runner processes with the synth_source
// plugin, a SQLite store on disk, a feed consumer), and in the same run the raw ceilings of this
// machine for the same bytes. One figure per line on stdout: `name value unit`; notes start with
// `#`; progress goes to stderr. Exit status 1 when a phase did not deliver every record it
// emitted (the ctest smoke test asserts that, never a speed), 2 on a usage or set-up error.
#include "synth_records.hpp"

#include "common/allocator.hpp"
#include "common/fast_json.hpp"
#include "feed/feed.hpp"

#include <nlohmann/json.hpp>
#ifdef CASEHUB_HAVE_SIMDJSON
#include <simdjson.h>
#endif
#include <sqlite3.h>
#include <zmq.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

// ---- small helpers ---------------------------------------------------------------------------

std::int64_t wall_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
double since_s(Steady::time_point t0) { return std::chrono::duration<double>(Steady::now() - t0).count(); }

void fig(const std::string& name, double value, const std::string& unit, int decimals = 0) {
    std::printf("%s %.*f %s\n", name.c_str(), decimals, value, unit.c_str());
    std::fflush(stdout);
}
void note(const std::string& s) {
    std::printf("# %s\n", s.c_str());
    std::fflush(stdout);
}
void progress(const std::string& s) { std::fprintf(stderr, "casehub-bench: %s\n", s.c_str()); }

// Every child (casehubd; runners die with it through PR_SET_PDEATHSIG) is killed on any exit.
constexpr int kMaxChildren = 16;
std::atomic<pid_t> g_children[kMaxChildren];
void track_child(pid_t p) {
    for (auto& c : g_children) {
        pid_t zero = 0;
        if (c.compare_exchange_strong(zero, p)) return;
    }
}
void untrack_child(pid_t p) {
    for (auto& c : g_children) {
        pid_t v = p;
        c.compare_exchange_strong(v, 0);
    }
}
void kill_children() {
    for (auto& c : g_children)
        if (pid_t p = c.exchange(0); p > 0) {
            ::kill(p, SIGKILL);
            ::waitpid(p, nullptr, 0);
        }
}
char g_work_message[512] = "casehub-bench: interrupted\n";
void on_signal(int) {
    for (auto& c : g_children)
        if (pid_t p = c.load(); p > 0) ::kill(p, SIGKILL);  // async-signal-safe
    ssize_t ignored = ::write(2, g_work_message, std::strlen(g_work_message));
    (void)ignored;
    ::_exit(130);
}

// ---- options ---------------------------------------------------------------------------------

struct Options {
    bool quick = false;
    std::int64_t records = 100000;            // throughput phase
    std::int64_t backfill = 1000000;          // backfill phase
    double duration = 20;                     // seconds per latency load
    std::vector<double> loads = {1000, 5000, 20000};
    std::set<std::string> phases = {"ceilings", "throughput", "latency", "backfill", "replay"};
    std::optional<fs::path> keep;
    std::optional<fs::path> rows;             // --rows: each latency record's times, for a timeline
    std::optional<fs::path> replay_store;     // --replay-store: a --keep dir of a backfill run
    fs::path build = CASEHUB_BINARY_DIR;
    fs::path source = CASEHUB_SOURCE_DIR;
    std::string synchronous = "full";
    // --set SECTION.KEY=VALUE: hub settings beyond the defaults, VALUE as TOML writes it.
    std::map<std::string, std::vector<std::string>> hub_settings;
    std::int64_t adapters = 1;                // synth_source runners
    std::int64_t source_tick_us = 1000;       // at a fixed rate, the source wakes once per tick
    double backfill_cap_s = 360;              // the backfill stops here and extrapolates
    std::int64_t ceiling_records = 1000000;
    std::vector<std::int64_t> stage_points = {10000, 100000, 1000000};
};

[[noreturn]] void usage(const std::string& why) {
    if (!why.empty()) std::fprintf(stderr, "casehub-bench: %s\n", why.c_str());
    std::fprintf(stderr,
                 "usage: casehub-bench [--quick] [--records N] [--backfill N] [--duration S] [--loads R,R,...]\n"
                 "                     [--phases ceilings,throughput,latency,backfill,replay] [--keep DIR]\n"
                 "                     [--rows FILE] [--build DIR] [--synchronous full|normal] [--backfill-cap S] [--adapters K]\n"
                 "                     [--source-tick-us US] [--replay-store KEPT_DIR] [--set SECTION.KEY=VALUE ...]\n");
    std::exit(2);
}

Options parse_options(int argc, char** argv) {
    Options o;
    std::vector<std::string> a(argv + 1, argv + argc);
    for (const auto& s : a)
        if (s == "--quick") {
            o.quick = true;
            o.records = 20000;
            o.backfill = 50000;
            o.duration = 3;
            o.backfill_cap_s = 90;
            o.ceiling_records = 200000;
            o.stage_points = {5000, 20000, 50000};
        }
    auto num = [&](std::size_t& i) {
        if (i + 1 >= a.size()) usage(a[i] + " needs a value");
        try {
            return std::stod(a[++i]);
        } catch (...) {
            usage("bad value for " + a[i - 1]);
        }
    };
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string& s = a[i];
        if (s == "--quick") continue;
        if (s == "--records") o.records = static_cast<std::int64_t>(num(i));
        else if (s == "--backfill") o.backfill = static_cast<std::int64_t>(num(i));
        else if (s == "--duration") o.duration = num(i);
        else if (s == "--backfill-cap") o.backfill_cap_s = num(i);
        else if (s == "--adapters") o.adapters = static_cast<std::int64_t>(num(i));
        else if (s == "--source-tick-us") o.source_tick_us = static_cast<std::int64_t>(num(i));
        else if (s == "--replay-store") {
            if (i + 1 >= a.size()) usage(s + " needs a value");
            o.replay_store = fs::absolute(a[++i]);
            if (!fs::exists(*o.replay_store / "backfill/var/casehub.db"))
                usage("--replay-store " + o.replay_store->string() + " holds no backfill/var/casehub.db");
        } else if (s == "--set") {
            if (i + 1 >= a.size()) usage(s + " needs a value");
            const std::string v = a[++i];
            const auto dot = v.find('.'), eq = v.find('=');
            if (dot == std::string::npos || eq == std::string::npos || dot == 0 || eq < dot + 2 || eq + 1 == v.size())
                usage("--set takes SECTION.KEY=VALUE, e.g. flow.prepare_worker=false");
            o.hub_settings[v.substr(0, dot)].push_back(v.substr(dot + 1, eq - dot - 1) + " = " + v.substr(eq + 1));
        } else if (s == "--loads" || s == "--phases" || s == "--keep" || s == "--rows" || s == "--build" || s == "--synchronous") {
            if (i + 1 >= a.size()) usage(s + " needs a value");
            const std::string v = a[++i];
            if (s == "--keep") o.keep = fs::absolute(v);
            else if (s == "--rows") o.rows = fs::absolute(v);
            else if (s == "--build") o.build = fs::absolute(v);
            else if (s == "--synchronous") {
                if (v != "full" && v != "normal") usage("--synchronous is full or normal");
                o.synchronous = v;
            } else {
                std::vector<std::string> parts;
                std::stringstream ss(v);
                for (std::string p; std::getline(ss, p, ',');)
                    if (!p.empty()) parts.push_back(p);
                if (s == "--phases") {
                    o.phases.clear();
                    for (auto& p : parts) {
                        if (p != "ceilings" && p != "throughput" && p != "latency" && p != "backfill" && p != "replay")
                            usage("unknown phase " + p);
                        o.phases.insert(p);
                    }
                } else {
                    o.loads.clear();
                    for (auto& p : parts) o.loads.push_back(std::stod(p));
                }
            }
        } else if (s == "--help" || s == "-h") usage("");
        else usage("unknown option " + s);
    }
    if (o.replay_store) o.phases = {"replay"};  // nothing else reads a kept store
    if (o.records < 1 || o.backfill < 1 || o.duration <= 0) usage("sizes must be positive");
    if (o.adapters < 1 || o.adapters > 8) usage("--adapters is 1 to 8");
    if (o.source_tick_us < 0 || o.source_tick_us > 1000000) usage("--source-tick-us is 0 to 1000000");
    // The stage-cost points lie within the backfill.
    std::vector<std::int64_t> pts;
    for (auto p : o.stage_points)
        if (p <= o.backfill) pts.push_back(p);
    if (pts.empty() || pts.back() != o.backfill) pts.push_back(o.backfill);
    o.stage_points = pts;
    return o;
}

// ---- casehubd as a child ---------------------------------------------------------------------

struct AdapterSpec {
    std::string id;
    json config;
};

class HubProcess {
public:
    HubProcess(const Options& o, fs::path dir) : o_(o), dir_(std::move(dir)) { fs::create_directories(dir_); }
    ~HubProcess() { kill9(); }

    fs::path db() const { return dir_ / "var/casehub.db"; }
    std::string feed() const { return "ipc://" + (dir_ / "var/feed.sock").string(); }
    std::string snapshot() const { return "ipc://" + (dir_ / "var/snapshot.sock").string(); }
    pid_t pid() const { return pid_; }

    // Defaults of config/casehub.toml except: no HTTP server (a fixed port would clash with a hub
    // running beside the bench), no command centre (not on the intake path), warn-level log.
    void configure(const std::vector<AdapterSpec>& adapters) {
        std::ofstream t(dir_ / "hub.toml");
        auto extra = [&](const std::string& section) {
            if (auto it = o_.hub_settings.find(section); it != o_.hub_settings.end())
                for (const auto& line : it->second) t << line << "\n";
        };
        t << "[hub]\ndata_dir = \"var\"\nsynchronous = \"" << o_.synchronous << "\"\nplugin_path = [\""
          << (o_.build / "bench/plugins").string() << "\"]\nlog_level = \"warn\"\nreference_dir = \""
          << (o_.source / "config/qinhuai").string() << "\"\n";
        extra("hub");
        t << "[http]\nenabled = false\n";
        extra("http");
        for (const auto& [section, lines] : o_.hub_settings)
            if (section != "hub" && section != "http") {
                t << "[" << section << "]\n";
                extra(section);
            }
        for (const auto& a : adapters)
            t << "\n[[adapters]]\nid = \"" << a.id << "\"\nplugin = \"synth_source\"\n[adapters.config]\n"
              << toml_table(a.config);
    }

    bool start() {
        const std::string exe = (o_.build / "bin/casehubd").string(), runner = (o_.build / "bin/casehub-runner").string();
        if (!fs::exists(exe) || !fs::exists(runner)) {
            progress("no " + exe + " or " + runner + " (build casehubd and casehub-runner, or pass --build DIR)");
            return false;
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string log = (dir_ / "casehubd.log").string();
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::chdir(dir_.c_str());
            const std::string cfg = (dir_ / "hub.toml").string();
            ::execl(exe.c_str(), exe.c_str(), "--config", cfg.c_str(), "--runner", runner.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (pid_ < 0) return false;
        track_child(pid_);
        // Ready when the control socket answers and the adapters are welcomed.
        const auto t0 = Steady::now();
        while (since_s(t0) < 30) {
            if (!alive()) break;
            if (auto st = status(); st.is_object()) {
                note_intake_nice(st);
                return true;
            }
            std::this_thread::sleep_for(50ms);
        }
        fail("casehubd did not start");
        return false;
    }

    // Once a run: what the intake thread got (flow.intake_nice needs CAP_SYS_NICE), since it moves
    // the throughput figures by 5-8 % (docs/performance.md, fifteenth round).
    static void note_intake_nice(const json& st) {
        static bool said = false;
        const json n = st.contains("hub") ? st["hub"].value("intake_nice", json()) : json();
        if (said || !n.is_object()) return;
        said = true;
        note("hub: the intake thread at nice " + n.value("actual", json()).dump() + ", the others at " +
             n.value("others", json()).dump() + " (flow.intake_nice " + n.value("wanted", json()).dump() +
             (n.contains("error") ? ": " + n["error"].get<std::string>() + ", run as root or with CAP_SYS_NICE" : "") + ")");
    }

    json status(std::chrono::milliseconds timeout = 3s) {
        zmq::socket_t s(ctx_, zmq::socket_type::req);
        s.set(zmq::sockopt::linger, 0);
        s.connect("ipc://" + (dir_ / "var/control.sock").string());
        s.send(zmq::buffer(std::string(R"({"cmd":"status"})")), zmq::send_flags::dontwait);
        zmq::pollitem_t it{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
        zmq::poll(&it, 1, timeout);
        zmq::message_t m;
        if (!(it.revents & ZMQ_POLLIN) || !s.recv(m)) return nullptr;
        return json::parse(m.to_string_view(), nullptr, false);
    }

    bool alive() {
        if (pid_ <= 0) return false;
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            untrack_child(pid_);
            pid_ = 0;
            return false;
        }
        return true;
    }

    // SIGTERM: the hub commits what arrived, acks it and exits 0. The exit status, -1 if killed.
    int terminate(std::chrono::seconds timeout = 30s) {
        if (pid_ <= 0) return -1;
        ::kill(pid_, SIGTERM);
        const auto t0 = Steady::now();
        int st = 0;
        while (since_s(t0) < static_cast<double>(timeout.count())) {
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                untrack_child(pid_);
                pid_ = 0;
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
            std::this_thread::sleep_for(20ms);
        }
        kill9();
        return -1;
    }
    void kill9() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            untrack_child(pid_);
            pid_ = 0;
        }
    }

    // VmHWM / VmRSS of casehubd in kB (-1 when unreadable).
    std::int64_t proc_kb(const std::string& key) const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
        for (std::string line; std::getline(in, line);)
            if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
        return -1;
    }

    // casehubd's user + system CPU so far, in seconds (-1 when unreadable). Less sensitive than
    // a rate to other work on the machine: compare builds with it when the machine is not idle.
    double cpu_s() const { return stat_cpu_s("/proc/" + std::to_string(pid_) + "/stat"); }
    // Bytes casehubd passed to write-type system calls (the store and its log, and the feed's and
    // the runners' sockets, about 2.5 KB per event): /proc/PID/io's wchar, -1 if unreadable.
    std::int64_t written_bytes() const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/io");
        for (std::string k; in >> k;) {
            std::int64_t v = 0;
            if (!(in >> v)) break;
            if (k == "wchar:") return v;
        }
        return -1;
    }
    // casehubd's minor page faults so far (field 10 of its stat), -1 if unreadable.
    long long minor_faults() const {
        const auto f = stat_fields("/proc/" + std::to_string(pid_) + "/stat");
        return f.empty() ? -1 : f[10];
    }

    // Each thread's CPU so far, busiest first: "name seconds" (the intake thread is casehubd's
    // main thread, named casehubd). Tells which thread bounds the throughput.
    std::vector<std::pair<std::string, double>> thread_cpu_s() const {
        std::vector<std::pair<std::string, double>> out;
        std::error_code ec;
        for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
            std::ifstream comm(t.path() / "comm");
            std::string name;
            std::getline(comm, name);
            const double s = stat_cpu_s(t.path() / "stat");
            if (s >= 0) out.emplace_back(t.path().filename() == std::to_string(pid_) ? "intake" : name, s);
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        return out;
    }

    // How long the intake thread has waited, runnable, for a CPU (schedstat's run delay), in seconds.
    double intake_run_delay_s() const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/schedstat");
        long long on_cpu_ns = 0, waiting_ns = -1;
        in >> on_cpu_ns >> waiting_ns;
        return waiting_ns < 0 ? -1 : 1e-9 * static_cast<double>(waiting_ns);
    }

    // The runners' CPU so far (casehubd's child processes), in seconds.
    double runners_cpu_s() const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
        double sum = 0;
        for (long child; in >> child;) sum += std::max(0.0, stat_cpu_s("/proc/" + std::to_string(child) + "/stat"));
        return sum;
    }

    // /proc/.../stat's numeric fields 4 to 15 (the man page's numbering; [i] is field i), empty if unreadable.
    static std::vector<long long> stat_fields(const fs::path& path) {
        std::ifstream in(path);
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto close = stat.rfind(')');  // the command name may hold spaces
        if (close == std::string::npos) return {};
        std::istringstream fields(stat.substr(close + 4));  // past ") S "
        std::vector<long long> v(4, 0);
        for (long long x; v.size() <= 15 && fields >> x;) v.push_back(x);
        if (v.size() <= 15) return {};
        return v;
    }
    static double stat_cpu_s(const fs::path& path) {
        const auto f = stat_fields(path);
        if (f.empty()) return -1;
        return static_cast<double>(f[14] + f[15]) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }

    void fail(const std::string& why) {
        progress(why + "; the last lines of " + (dir_ / "casehubd.log").string() + ":");
        std::ifstream in(dir_ / "casehubd.log");
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        for (std::size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i)
            std::fprintf(stderr, "  | %s\n", lines[i].c_str());
    }

private:
    static std::string toml_table(const json& j) {
        std::string s;
        for (const auto& [k, v] : j.items()) s += k + " = " + v.dump() + "\n";  // JSON scalars are TOML
        return s;
    }

    const Options& o_;
    fs::path dir_;
    pid_t pid_ = 0;
    zmq::context_t ctx_{1};
};

json adapter_of(const json& st, const std::string& id) {
    if (st.is_object() && st.contains("adapters"))
        for (const auto& a : st["adapters"])
            if (a.value("id", "") == id) return a;
    return nullptr;
}
std::int64_t i64(const json& j, const char* k) {
    return j.is_object() && j.contains(k) && j[k].is_number() ? j[k].get<std::int64_t>() : 0;
}

// ---- the feed consumer -----------------------------------------------------------------------

// source.received_at of record `id` in a case document, found without parsing the whole
// document: the `sources[]` entry is the flat object that holds both "record_id":"<id>" and a
// received_at (location.source holds the id too, but no received_at). Falls back to a parse.
std::int64_t received_at_us(std::string_view doc, std::string_view id) {
    const std::string needle = "\"record_id\":\"" + std::string(id) + "\"";
    for (std::size_t at = doc.find(needle); at != std::string_view::npos; at = doc.find(needle, at + 1)) {
        const std::size_t open = doc.rfind('{', at), close = doc.find('}', at);
        if (open == std::string_view::npos || close == std::string_view::npos) break;
        const std::string_view obj = doc.substr(open, close - open);
        const std::size_t r = obj.find("\"received_at\":\"");
        if (r == std::string_view::npos) continue;
        const std::string_view v = obj.substr(r + 15, obj.find('"', r + 15) - (r + 15));
        // yyyy-mm-ddThh:mm:ss.ffffff+08:00
        auto ms = casehub::sdk::parse_rfc3339_ms(v);
        if (!ms) return -1;
        std::int64_t us = *ms * 1000;
        if (const auto dot = v.find('.'); dot != std::string_view::npos && v.size() > dot + 6)
            us += std::atoi(std::string(v.substr(dot + 4, 3)).c_str());
        return us;
    }
    auto j = json::parse(doc, nullptr, false);
    if (j.is_object() && j["sources"].is_array())
        for (const auto& s : j["sources"])
            if (s.value("record_id", "") == id && s["received_at"].is_string()) {
                auto ms = casehub::sdk::parse_rfc3339_ms(s["received_at"].get<std::string>());
                return ms ? *ms * 1000 : -1;
            }
    return -1;
}

struct Delivery {
    std::int64_t emit_us, commit_ms, deliver_us;
};

// A real consumer: FeedClient (SUB + replay on gaps) from seq 0 of a fresh store; every event of
// the synth source is one record (created or joined).
class Consumer {
public:
    Consumer(std::string feed, std::string snapshot) : feed_(std::move(feed)), snapshot_(std::move(snapshot)) {
        thread_ = std::thread([this] { run(); });
    }
    ~Consumer() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t last_seq() const { return last_seq_; }
    std::uint64_t distinct_records() const { return distinct_; }
    std::uint64_t joined() const { return joined_; }
    std::uint64_t no_emit_time() const { return no_time_; }
    std::uint64_t gaps() const { return gaps_; }
    std::string error() const {
        std::lock_guard<std::mutex> l(m_);
        return error_;
    }
    const std::vector<Delivery>& rows() const { return rows_; }  // after stop()

private:
    void run() {
        casehub::host::FeedClientOptions fo;
        fo.feed_endpoint = feed_;
        fo.snapshot_endpoint = snapshot_;
        fo.start = casehub::host::FeedClientOptions::Start::from_seq;
        fo.from = 0;
        fo.rcvhwm = 1000000;
        fo.max_buffer = 1000000;
        auto c = casehub::host::FeedClient::connect(ctx_, fo);
        if (!c) {
            std::lock_guard<std::mutex> l(m_);
            error_ = c.error().message;
            return;
        }
        rows_.reserve(1 << 20);
        casehub::host::FeedEvent ev;
        while (!stop_) {
            if (!(*c)->next(ev, 100ms)) continue;
            const std::int64_t now = wall_us();
            const auto& e = ev.row;
            last_seq_ = e.seq;
            ++delivered_;
            if (e.type == "joined") ++joined_;
            // detail.record is "<system>:<record_id>" (the last "record" key: nested objects sort first).
            const std::size_t r = e.detail.rfind("\"record\":\"");
            if (r == std::string::npos) continue;
            const std::size_t b = r + 10, end = e.detail.find('"', b);
            const std::string key = e.detail.substr(b, end - b);
            if (seen_.insert(key).second) ++distinct_;
            const std::string id = key.substr(key.find(':') + 1);
            const std::int64_t emit = received_at_us(e.doc, id);
            if (emit < 0) ++no_time_;
            else rows_.push_back({emit, e.at, now});
        }
        gaps_ = (*c)->counters().gaps_detected;
    }

    std::string feed_, snapshot_;
    zmq::context_t ctx_{1};
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> delivered_{0}, last_seq_{0}, distinct_{0}, joined_{0}, no_time_{0}, gaps_{0};
    std::unordered_set<std::string> seen_;
    std::vector<Delivery> rows_;
    mutable std::mutex m_;
    std::string error_;
};

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return NAN;
    const auto k = static_cast<std::size_t>(std::min<double>(static_cast<double>(v.size()) - 1, std::ceil(p * static_cast<double>(v.size())) - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

// ---- one ingest run: a fresh store, one synth adapter, a consumer ------------------------------

struct IngestRun {
    bool ok = false;
    std::int64_t emitted = 0, applied = 0, invalid = 0;
    std::uint64_t delivered = 0, joined = 0, gaps = 0;
    std::vector<Delivery> rows;
    double wall_s = 0;
    double hub_cpu_s = -1;  // casehubd's user + system CPU over the whole run
    std::vector<std::pair<std::string, double>> hub_threads;  // per thread, busiest first
    double intake_run_delay_s = -1;                           // the intake thread's wait for a CPU
    double runners_cpu_s = -1, bench_cpu_s = -1;  // the synth_source runners; this process (the consumer)
    std::int64_t commits = 0, commit_us = 0;         // the hub's group commits and their time, from its status
    std::int64_t hub_written = -1;                   // casehubd's wchar over the run
    long long hub_faults = -1;                       // casehubd's minor page faults over the run
};

// `--adapters K` synth sources (runner processes) share the records and the rate; each takes
// every K-th slot of the district's timeline.
std::vector<AdapterSpec> synth_adapters(const Options& o, std::int64_t total, double rate, std::int64_t duration_ms) {
    std::vector<AdapterSpec> v;
    const std::int64_t k = o.adapters;
    for (std::int64_t i = 0; i < k; ++i)
        v.push_back({"synth" + std::to_string(i),
                     {{"reference_dir", (o.source / "config/qinhuai").string()},
                      {"count", total / k + (i < total % k ? 1 : 0)},
                      {"rate_per_second", rate / static_cast<double>(k)},
                      {"batch_size", 1000},
                      {"duration_ms", duration_ms},
                      {"tick_us", o.source_tick_us},
                      {"stream", i},
                      {"streams", k}}});
    return v;
}

// The synth adapters' counters summed; `finished` when each has committed its whole count.
struct Totals {
    bool present = true, finished = true;
    std::string failed;
    std::int64_t emitted = 0, applied = 0, invalid = 0, in_flight = 0;
};
Totals totals_of(const json& st, const std::vector<AdapterSpec>& specs) {
    Totals t;
    for (const auto& spec : specs) {
        const json a = adapter_of(st, spec.id);
        if (!a.is_object()) {
            t.present = false;
            return t;
        }
        if (a.value("state", "") == "failed") t.failed = spec.id + ": " + a.value("last_error", std::string());
        const std::int64_t cursor = a["last_cursor"].is_string() ? std::stoll(a["last_cursor"].get<std::string>()) : 1;
        t.emitted += cursor - 1;
        t.applied += i64(a, "applied");
        t.invalid += i64(a, "invalid");
        t.in_flight += i64(a, "in_flight");
        if (cursor != spec.config["count"].get<std::int64_t>() + 1) t.finished = false;
    }
    return t;
}

double process_cpu_s() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

IngestRun ingest(const Options& o, const fs::path& dir, const std::string& label, std::int64_t count, double rate,
                 double duration_s, double timeout_s) {
    IngestRun out;
    const double bench_cpu0 = process_cpu_s();
    HubProcess hub(o, dir);
    const auto specs = synth_adapters(o, count, rate, static_cast<std::int64_t>(duration_s * 1000));
    hub.configure(specs);
    Consumer consumer(hub.feed(), hub.snapshot());
    const auto t0 = Steady::now();
    if (!hub.start()) return out;
    std::int64_t last_cursor = -1;
    auto cursor_moved = Steady::now(), last_progress = Steady::now();
    bool done = false;
    while (since_s(t0) < timeout_s) {
        std::this_thread::sleep_for(100ms);
        if (!hub.alive()) {
            hub.fail(label + ": casehubd exited");
            return out;
        }
        const json st = hub.status();
        const Totals a = totals_of(st, specs);
        if (!a.present) continue;
        if (st.contains("hub")) out.commits = i64(st["hub"], "commits"), out.commit_us = i64(st["hub"], "commit_us_total");
        if (!a.failed.empty()) {
            hub.fail(label + ": an adapter failed: " + a.failed);
            return out;
        }
        if (a.emitted != last_cursor) last_cursor = a.emitted, cursor_moved = Steady::now();
        out.emitted = a.emitted;
        out.applied = a.applied;
        out.invalid = a.invalid;
        const bool source_done = a.finished || (since_s(t0) > duration_s + 1 && since_s(cursor_moved) > 1.0 && a.in_flight == 0);
        if (since_s(last_progress) > 2) {
            progress(label + ": " + std::to_string(out.applied) + " committed, " + std::to_string(consumer.delivered()) +
                     " delivered");
            last_progress = Steady::now();
        }
        if (source_done && a.in_flight == 0 && consumer.delivered() >= static_cast<std::uint64_t>(out.applied)) {
            done = true;
            break;
        }
    }
    out.wall_s = since_s(t0);
    out.hub_cpu_s = hub.cpu_s();
    out.hub_threads = hub.thread_cpu_s();
    out.intake_run_delay_s = hub.intake_run_delay_s();
    out.hub_written = hub.written_bytes();
    out.hub_faults = hub.minor_faults();
    out.runners_cpu_s = hub.runners_cpu_s();
    out.bench_cpu_s = process_cpu_s() - bench_cpu0;
    const int rc = hub.terminate();
    consumer.stop();
    out.delivered = consumer.distinct_records();
    out.joined = consumer.joined();
    out.gaps = consumer.gaps();
    out.rows = consumer.rows();
    if (!consumer.error().empty()) progress(label + ": consumer: " + consumer.error());
    if (!done) progress(label + ": timed out after " + std::to_string(static_cast<int>(timeout_s)) + " s");
    if (rc != 0) progress(label + ": casehubd exited with status " + std::to_string(rc));
    if (out.invalid > 0) progress(label + ": " + std::to_string(out.invalid) + " synthetic records were dead-lettered (see the store)");
    if (consumer.no_emit_time() > 0)
        progress(label + ": " + std::to_string(consumer.no_emit_time()) + " events without a readable emit time");
    out.ok = done && out.invalid == 0 && out.applied == out.emitted &&
             out.delivered == static_cast<std::uint64_t>(out.applied) && consumer.no_emit_time() == 0;
    if (!out.ok)
        progress(label + ": FAILED: emitted " + std::to_string(out.emitted) + ", committed " + std::to_string(out.applied) +
                 ", delivered " + std::to_string(out.delivered));
    return out;
}

// ---- phases ------------------------------------------------------------------------------------

struct Results {
    bool ok = true;
    std::optional<double> end_to_end;
    std::vector<std::pair<std::string, double>> ceilings;
};

// `tag`_intake_thread_us_per_record, and a note with every busy thread's share.
void thread_figures(const std::string& tag, const IngestRun& r) {
    if (r.delivered == 0 || r.hub_threads.empty()) return;
    std::string line;
    for (const auto& [name, s] : r.hub_threads) {
        if (name == "intake") fig(tag + "_intake_thread_us_per_record", 1e6 * s / static_cast<double>(r.delivered), "us/record");
        if (s >= 0.05) {
            char b[96];
            std::snprintf(b, sizeof b, "%s%s %.0f", line.empty() ? "" : ", ", name.c_str(), 1e6 * s / static_cast<double>(r.delivered));
            line += b;
        }
    }
    note(tag + ": casehubd's threads, us of CPU per record: " + line);
    if (r.intake_run_delay_s >= 0) {
        char w[160];
        std::snprintf(w, sizeof w, "%s: the intake thread also waited %.0f us per record, runnable, for a CPU (schedstat)", tag.c_str(),
                      1e6 * r.intake_run_delay_s / static_cast<double>(r.delivered));
        note(w);
    }
    const double n = static_cast<double>(r.delivered);
    char b[200];
    std::snprintf(b, sizeof b, "%s: the machine's CPU per record: casehubd %.0f us, runner(s) %.0f us, this bench (feed consumer) %.0f us", tag.c_str(),
                  1e6 * r.hub_cpu_s / n, 1e6 * r.runners_cpu_s / n, 1e6 * r.bench_cpu_s / n);
    note(b);
    if (r.commits > 0) {
        std::snprintf(b, sizeof b, "%s: %lld group commits, %.1f records and %.2f ms each (applying the records included)", tag.c_str(),
                      static_cast<long long>(r.commits), n / static_cast<double>(r.commits),
                      1e-3 * static_cast<double>(r.commit_us) / static_cast<double>(r.commits));
        note(b);
    }
    if (r.hub_written >= 0 && r.hub_faults >= 0) {
        std::snprintf(b, sizeof b, "%s: per record, casehubd wrote %.1f KB (write system calls: the store and its log, and the feed's sockets) and took %.1f minor page faults",
                      tag.c_str(), 1e-3 * static_cast<double>(r.hub_written) / n, static_cast<double>(r.hub_faults) / n);
        note(b);
    }
}

void phase_throughput(const Options& o, const fs::path& work, Results& res) {
    progress("throughput: " + std::to_string(o.records) + " records as fast as possible");
    auto r = ingest(o, work / "throughput", "throughput", o.records, 0, 0, std::max(120.0, static_cast<double>(o.records) / 200.0));
    fig("throughput_records_emitted", static_cast<double>(r.emitted), "records");
    fig("throughput_records_delivered", static_cast<double>(r.delivered), "records");
    note("throughput: the consumer saw " + std::to_string(r.gaps) + " gap(s) and replayed them from the store");
    if (r.hub_cpu_s >= 0 && r.delivered > 0)
        fig("throughput_casehubd_cpu_us_per_record", 1e6 * r.hub_cpu_s / static_cast<double>(r.delivered), "us/record");
    thread_figures("throughput", r);
    fig("throughput_joined_share", r.delivered ? 100.0 * static_cast<double>(r.joined) / static_cast<double>(r.delivered) : 0, "%", 1);
    if (!r.ok) {
        res.ok = false;
        note("throughput: not every emitted record was delivered");
    }
    if (r.rows.size() < 2) return;
    std::int64_t e0 = INT64_MAX, e1 = 0, c0 = INT64_MAX, c1 = 0, d0 = INT64_MAX, d1 = 0;
    for (const auto& d : r.rows) {
        e0 = std::min(e0, d.emit_us), e1 = std::max(e1, d.emit_us);
        c0 = std::min(c0, d.commit_ms), c1 = std::max(c1, d.commit_ms);
        d0 = std::min(d0, d.deliver_us), d1 = std::max(d1, d.deliver_us);
    }
    const double n = static_cast<double>(r.rows.size());
    fig("throughput_emitted_per_s", (n - 1) / ((e1 - e0) / 1e6), "records/s");
    if (c1 > c0) fig("throughput_committed_per_s", (n - 1) / ((c1 - c0) / 1e3), "records/s");
    fig("throughput_delivered_per_s", (n - 1) / ((d1 - d0) / 1e6), "records/s");
    const double e2e = n / ((d1 - e0) / 1e6);
    fig("throughput_end_to_end_per_s", e2e, "records/s");
    note("end_to_end = records / (last delivery - first emit); the others count between their own first and last");
    res.end_to_end = e2e;
}

// --rows: one line per record, `tag emit commit_start delivery` in ms from the load's first emit,
// appended, so a transient can be laid against the hub's log.
void write_rows(const fs::path& file, const std::string& tag, const std::vector<Delivery>& rows) {
    std::FILE* f = std::fopen(file.c_str(), "a");
    if (!f) {
        note("--rows: cannot open " + file.string() + ": " + std::strerror(errno));
        return;
    }
    const std::int64_t first = rows.front().emit_us;
    std::fprintf(f, "# %s: the first emit at %lld us (CLOCK_REALTIME)\n", tag.c_str(), static_cast<long long>(first));
    for (const Delivery& d : rows)
        std::fprintf(f, "%s %.3f %.3f %.3f\n", tag.c_str(), (d.emit_us - first) / 1000.0,
                     (d.commit_ms * 1000 - first) / 1000.0, (d.deliver_us - first) / 1000.0);
    std::fclose(f);
    note("--rows: " + std::to_string(rows.size()) + " records' times appended to " + file.string());
}

void phase_latency(const Options& o, const fs::path& work, Results& res) {
    for (double load : o.loads) {
        const std::string tag = "latency_" + std::to_string(static_cast<std::int64_t>(load));
        const auto count = static_cast<std::int64_t>(load * o.duration);
        progress(tag + ": " + std::to_string(count) + " records offered over " + std::to_string(o.duration) + " s");
        auto r = ingest(o, work / tag, tag, count, load, o.duration, o.duration * 4 + 90);
        if (!r.ok) {
            res.ok = false;
            note(tag + ": not every emitted record was delivered");
        }
        // Warm-up (caches, the first commits): the records offered in the first second, at most a
        // third of them; the rest are measured. Rows sorted by emit time.
        std::sort(r.rows.begin(), r.rows.end(), [](const Delivery& a, const Delivery& b) { return a.emit_us < b.emit_us; });
        const std::size_t skip = std::min(static_cast<std::size_t>(load), r.rows.size() / 3);
        std::vector<double> ms, to_commit, to_consumer;
        for (std::size_t i = skip; i < r.rows.size(); ++i) {
            const Delivery& d = r.rows[i];
            ms.push_back(static_cast<double>(d.deliver_us - d.emit_us) / 1000.0);
            to_commit.push_back(static_cast<double>(d.commit_ms * 1000 - d.emit_us) / 1000.0);
            to_consumer.push_back(static_cast<double>(d.deliver_us - d.commit_ms * 1000) / 1000.0);
        }
        thread_figures(tag, r);
        fig(tag + "_offered_per_s", load, "records/s");
        fig(tag + "_achieved_per_s", static_cast<double>(r.emitted) / o.duration, "records/s");
        fig(tag + "_measured_records", static_cast<double>(ms.size()), "records");
        fig(tag + "_p50_ms", percentile(ms, 0.50), "ms", 2);
        fig(tag + "_p99_ms", percentile(ms, 0.99), "ms", 2);
        fig(tag + "_p999_ms", percentile(ms, 0.999), "ms", 2);
        fig(tag + "_max_ms", ms.empty() ? NAN : *std::max_element(ms.begin(), ms.end()), "ms", 2);
        // Where the time goes: the event's `at` (hub clock, ms) is taken when the group commit that
        // holds the record begins; after it come the pipeline, the fsync, the publish and the consumer.
        fig(tag + "_emit_to_commit_start_p50_ms", percentile(to_commit, 0.50), "ms", 1);
        fig(tag + "_commit_start_to_consumer_p50_ms", percentile(to_consumer, 0.50), "ms", 1);
        fig(tag + "_emit_to_commit_start_p99_ms", percentile(to_commit, 0.99), "ms", 1);
        fig(tag + "_commit_start_to_consumer_p99_ms", percentile(to_consumer, 0.99), "ms", 1);
        fig(tag + "_overloaded", static_cast<double>(r.emitted) < count * 0.97 ? 1 : 0, "");
        // p99 per second of emit time, warm-up included: shows a transient (the first commits of
        // a new store, the first checkpoints) apart from the steady state.
        if (!r.rows.empty()) {
            std::string by_second;
            const std::int64_t first = r.rows.front().emit_us;
            for (std::size_t i = 0; i < r.rows.size();) {
                const std::int64_t second = (r.rows[i].emit_us - first) / 1000000;
                std::vector<double> in_second;
                for (; i < r.rows.size() && (r.rows[i].emit_us - first) / 1000000 == second; ++i)
                    in_second.push_back(static_cast<double>(r.rows[i].deliver_us - r.rows[i].emit_us) / 1000.0);
                char cell[48];
                std::snprintf(cell, sizeof cell, " %lld:%.0f", static_cast<long long>(second + 1), percentile(in_second, 0.99));
                by_second += cell;
            }
            note(tag + ": p99 ms by second of emit (second:p99, warm-up included):" + by_second);
        }
        if (o.rows && !r.rows.empty()) write_rows(*o.rows, tag, r.rows);
        if (static_cast<double>(r.emitted) < count * 0.97)
            note(tag + ": overloaded, the source fell behind the offered rate (the hub's credit held it back): the load is above capacity, and latency includes the wait at the source");
    }
}

std::int64_t count_sql(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    std::int64_t v = -1;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

// A new consumer catching up: every event from seq 0, through FeedClient's paging.
void run_replay(HubProcess& hub, Results& res) {
    const json st = hub.status();
    const auto head = static_cast<std::uint64_t>(i64(st["hub"], "head_seq"));
    progress("replay: " + std::to_string(head) + " events from seq 0");
    zmq::context_t ctx{1};
    casehub::host::FeedClientOptions fo;
    fo.feed_endpoint = hub.feed();
    fo.snapshot_endpoint = hub.snapshot();
    fo.start = casehub::host::FeedClientOptions::Start::from_seq;
    fo.from = 0;
    auto c = casehub::host::FeedClient::connect(ctx, fo);
    if (!c) {
        progress("replay: " + c.error().message);
        res.ok = false;
    } else {
        casehub::host::FeedEvent ev;
        std::uint64_t n = 0, bytes = 0;
        const double hub_cpu0 = hub.cpu_s(), bench_cpu0 = process_cpu_s();
        const auto r0 = Steady::now();
        auto lp = Steady::now();
        const double cap = std::max(120.0, static_cast<double>(head) / 2000.0);
        while (n < head && since_s(r0) < cap) {
            if (!(*c)->next(ev, 1000ms)) continue;
            ++n;
            bytes += ev.row.doc.size();
            if (since_s(lp) > 5) {
                progress("replay: " + std::to_string(n) + " events");
                lp = Steady::now();
            }
        }
        const double dt = since_s(r0);
        fig("replay_events", static_cast<double>(n), "events");
        fig("replay_events_per_s", static_cast<double>(n) / dt, "events/s");
        fig("replay_mb_per_s", static_cast<double>(bytes) / 1048576.0 / dt, "MB/s", 1);
        note("replay: FeedClient from seq 0, page limit " + std::to_string(fo.page_limit) + " events");
        if (n > 0) {
            // CPU moves less than the rate between runs here: compare builds with it.
            char b[160];
            std::snprintf(b, sizeof b, "replay: CPU per event, casehubd %.2f us, this bench (the consumer) %.2f us",
                          1e6 * (hub.cpu_s() - hub_cpu0) / static_cast<double>(n), 1e6 * (process_cpu_s() - bench_cpu0) / static_cast<double>(n));
            note(b);
        }
        if (n != head) {
            progress("replay: FAILED: " + std::to_string(n) + " of " + std::to_string(head) + " events");
            res.ok = false;
        }
        fig("rss_casehubd_peak_after_replay_mb", static_cast<double>(hub.proc_kb("VmHWM")) / 1024.0, "MB", 1);
    }
}

// Backfill, stage costs along it, RSS, then replay of the whole store from seq 0 (same hub).
void phase_backfill_replay(const Options& o, const fs::path& work, Results& res, bool backfill_figs, bool replay) {
    if (o.replay_store) {
        // Only the replay, on the store of an earlier run: the same events, minutes sooner.
        HubProcess hub(o, *o.replay_store / "backfill");
        hub.configure({});
        if (!hub.start()) {
            res.ok = false;
            return;
        }
        note("replay: on the kept store " + hub.db().string() + " (no backfill in this run)");
        run_replay(hub, res);
        if (int rc = hub.terminate(); rc != 0) {
            progress("replay: casehubd exited with status " + std::to_string(rc));
            res.ok = false;
        }
        return;
    }
    const fs::path dir = work / "backfill";
    HubProcess hub(o, dir);
    const auto specs = synth_adapters(o, o.backfill, 0, 0);
    hub.configure(specs);
    progress("backfill: " + std::to_string(o.backfill) + " records into an empty store (cap " +
             std::to_string(static_cast<int>(o.backfill_cap_s)) + " s)");
    const auto t0 = Steady::now();
    if (!hub.start()) {
        res.ok = false;
        return;
    }
    struct Sample {
        double t;
        std::int64_t applied, commit_us, commits;
    };
    std::vector<Sample> samples;
    std::size_t next_point = 0;
    auto last_progress = Steady::now();
    bool done = false, capped = false;
    double t_first = -1;
    std::int64_t applied = 0, emitted = 0, invalid = 0;
    while (!done) {
        std::this_thread::sleep_for(200ms);
        if (!hub.alive()) {
            hub.fail("backfill: casehubd exited");
            res.ok = false;
            return;
        }
        const json st = hub.status();
        const Totals a = totals_of(st, specs);
        if (!a.present) continue;
        if (!a.failed.empty()) {
            hub.fail("backfill: an adapter failed: " + a.failed);
            res.ok = false;
            return;
        }
        applied = a.applied;
        invalid = a.invalid;
        emitted = a.emitted;
        if (applied > 0 && t_first < 0) t_first = since_s(t0);
        samples.push_back({since_s(t0), applied, i64(st["hub"], "commit_us_total"), i64(st["hub"], "commits")});
        // Stage cost at each point: commit time per record over the window just before it.
        while (next_point < o.stage_points.size() && applied >= o.stage_points[next_point]) {
            const std::int64_t p = o.stage_points[next_point++];
            const std::int64_t from = p - std::min<std::int64_t>(p / 2, std::max<std::int64_t>(p / 10, 5000));
            const Sample* s0 = &samples.front();
            for (const auto& s : samples)
                if (s.applied <= from) s0 = &s;
            const Sample& s1 = samples.back();
            const double dn = static_cast<double>(s1.applied - s0->applied);
            const std::string tag = "stage_at_" + std::to_string(p) + "_records";
            if (dn > 0) {
                fig(tag + "_commit_us_per_record", static_cast<double>(s1.commit_us - s0->commit_us) / dn, "us/record", 1);
                fig(tag + "_records_per_s", dn / (s1.t - s0->t), "records/s");
            }
            fig(tag + "_cases_stored", static_cast<double>(count_sql(hub.db(), "SELECT count(*) FROM cases")), "cases");
            fig(tag + "_cases_open",
                static_cast<double>(count_sql(hub.db(), "SELECT count(*) FROM cases WHERE status NOT IN ('closed','rejected','cancelled')")),
                "cases");
        }
        if (since_s(last_progress) > 5) {
            progress("backfill: " + std::to_string(applied) + " committed after " + std::to_string(static_cast<int>(since_s(t0))) + " s");
            last_progress = Steady::now();
        }
        if (a.finished && applied + invalid == emitted && a.in_flight == 0) done = true;
        if (!done && since_s(t0) > o.backfill_cap_s) {
            capped = true;
            break;
        }
    }
    if (samples.empty()) {
        hub.fail("backfill: casehubd never answered its control socket");
        res.ok = false;
        return;
    }
    const double elapsed = samples.back().t - std::max(0.0, t_first);
    if (backfill_figs || capped) {
        fig("backfill_records", static_cast<double>(applied), "records");
        fig("backfill_minutes", elapsed / 60.0, "min", 2);
        fig("backfill_records_per_s", static_cast<double>(applied) / elapsed, "records/s");
        fig("backfill_5M_minutes_extrapolated", elapsed / 60.0 * 5e6 / static_cast<double>(std::max<std::int64_t>(applied, 1)), "min", 1);
        note(std::string("backfill_5M_minutes_extrapolated: linear from the measured average; the rate falls as the store grows, so 5 M would take longer") +
             (capped ? "; the backfill hit its time cap (--backfill-cap) before " + std::to_string(o.backfill) + " records" : ""));
        fig("backfill_cases_stored", static_cast<double>(count_sql(hub.db(), "SELECT count(*) FROM cases")), "cases");
        fig("backfill_cases_open",
            static_cast<double>(count_sql(hub.db(), "SELECT count(*) FROM cases WHERE status NOT IN ('closed','rejected','cancelled')")),
            "cases");
        std::error_code ec;
        const double store_bytes = static_cast<double>(fs::file_size(hub.db(), ec)) +
                                   static_cast<double>(fs::file_size(hub.db().string() + "-wal", ec));
        fig("backfill_store_mb", store_bytes / 1048576.0, "MB");
        fig("backfill_store_bytes_per_record", store_bytes / static_cast<double>(std::max<std::int64_t>(applied, 1)), "bytes");
        for (std::size_t i = next_point; i < o.stage_points.size(); ++i)
            note("stage_at_" + std::to_string(o.stage_points[i]) + "_records: not reached within the backfill's time cap");
        fig("rss_casehubd_peak_after_backfill_mb", static_cast<double>(hub.proc_kb("VmHWM")) / 1024.0, "MB", 1);
        fig("rss_casehubd_now_after_backfill_mb", static_cast<double>(hub.proc_kb("VmRSS")) / 1024.0, "MB", 1);
    }
    if (invalid > 0) {
        progress("backfill: " + std::to_string(invalid) + " synthetic records were dead-lettered");
        res.ok = false;
    }
    if (!capped && applied != o.backfill) res.ok = false;

    if (replay && capped) {
        // The source is still emitting: restart the hub on the same store without adapters so the
        // replay is measured alone (SIGTERM commits what arrived first).
        if (int rc = hub.terminate(); rc != 0) progress("backfill: casehubd exited with status " + std::to_string(rc));
        hub.configure({});
        if (!hub.start()) {
            res.ok = false;
            return;
        }
        note("replay: the capped backfill was stopped and casehubd restarted on its store without adapters");
    }
    if (replay) run_replay(hub, res);
    if (int rc = hub.terminate(); rc != 0) {
        progress("backfill: casehubd exited with status " + std::to_string(rc));
        res.ok = false;
    }
}

// ---- ceilings: the same bytes through the raw tools --------------------------------------------

void phase_ceilings(const Options& o, const fs::path& work, Results& res) {
    progress("ceilings: " + std::to_string(o.ceiling_records) + " records each through ZeroMQ, SQLite, JSON parse");
    casehub::bench::SynthGenerator gen(o.source / "config/qinhuai");
    std::vector<std::string> recs;
    const std::int64_t now = wall_us();
    for (std::uint64_t n = 1; n <= 20000; ++n) recs.push_back(gen.record(n, now));
    double bytes = 0;
    for (const auto& r : recs) bytes += static_cast<double>(r.size());
    fig("record_mean_bytes", bytes / static_cast<double>(recs.size()), "bytes");
    const std::int64_t N = o.ceiling_records;

    {  // ZeroMQ ipc:// PUSH -> PULL, one frame per record, receiver on its own thread.
        zmq::context_t ctx{1};
        const std::string ep = "ipc://" + (work / "ceiling.sock").string();
        zmq::socket_t pull(ctx, zmq::socket_type::pull);
        pull.bind(ep);
        std::atomic<bool> failed{false};
        Steady::time_point t_end;
        std::thread rx([&] {
            zmq::message_t m;
            pull.set(zmq::sockopt::rcvtimeo, 10000);
            for (std::int64_t i = 0; i < N; ++i)
                if (!pull.recv(m)) {
                    failed = true;
                    break;
                }
            t_end = Steady::now();
        });
        zmq::socket_t push(ctx, zmq::socket_type::push);
        push.set(zmq::sockopt::sndtimeo, 10000);  // a dead receiver must not block the bench
        push.set(zmq::sockopt::linger, 0);
        push.connect(ep);
        const auto t0 = Steady::now();
        for (std::int64_t i = 0; i < N && !failed; ++i)
            if (!push.send(zmq::buffer(recs[static_cast<std::size_t>(i) % recs.size()]))) failed = true;
        rx.join();
        const double r = static_cast<double>(N) / std::chrono::duration<double>(t_end - t0).count();
        if (failed) note("ceiling_zmq: the receiver timed out");
        else {
            fig("ceiling_zmq_ipc_push_pull_per_s", r, "msgs/s");
            res.ceilings.push_back({"zmq", r});
        }
    }
    {  // SQLite WAL, one table, 1,000 rows per transaction, the hub's synchronous setting.
        const fs::path db = work / "ceiling.db";
        sqlite3* h = nullptr;
        sqlite3_open(db.c_str(), &h);
        const std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + o.synchronous +
                                    "; CREATE TABLE t(id INTEGER PRIMARY KEY, doc TEXT NOT NULL);";
        sqlite3_exec(h, pragmas.c_str(), nullptr, nullptr, nullptr);
        sqlite3_stmt* ins = nullptr;
        sqlite3_prepare_v2(h, "INSERT INTO t(doc) VALUES (?)", -1, &ins, nullptr);
        const std::int64_t rows = std::min<std::int64_t>(N, o.quick ? 100000 : 500000);
        const auto t0 = Steady::now();
        bool ok = true;
        for (std::int64_t i = 0; i < rows && ok; i += 1000) {
            sqlite3_exec(h, "BEGIN", nullptr, nullptr, nullptr);
            for (std::int64_t k = i; k < std::min(rows, i + 1000); ++k) {
                const auto& r = recs[static_cast<std::size_t>(k) % recs.size()];
                sqlite3_bind_text(ins, 1, r.data(), static_cast<int>(r.size()), SQLITE_STATIC);
                ok = ok && sqlite3_step(ins) == SQLITE_DONE;
                sqlite3_reset(ins);
            }
            ok = ok && sqlite3_exec(h, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
        }
        const double r = static_cast<double>(rows) / since_s(t0);
        sqlite3_finalize(ins);
        sqlite3_close(h);
        fs::remove(db);
        fs::remove(db.string() + "-wal");
        fs::remove(db.string() + "-shm");
        if (!ok) note("ceiling_sqlite: an insert failed");
        else {
            fig("ceiling_sqlite_wal_insert_per_s", r, "rows/s");
            note("ceiling_sqlite: WAL, synchronous=" + o.synchronous + ", 1000 rows per transaction, one table");
            res.ceilings.push_back({"sqlite", r});
        }
    }
    {  // nlohmann::json parse of the same records (not the hub's parser any more: not in the ratio).
        const auto t0 = Steady::now();
        std::size_t keys = 0;  // used, so the parse cannot be optimised away
        for (std::int64_t i = 0; i < N; ++i) keys += json::parse(recs[static_cast<std::size_t>(i) % recs.size()]).size();
        const double r = static_cast<double>(N) / since_s(t0);
        fig("ceiling_json_parse_per_s", r, "records/s");
        if (keys == 0) note("ceiling_json: the records parsed to nothing");
        note("ceiling_json: nlohmann's own parser, for comparison; the hub parses as the next line does");
    }
    {  // The hub's parse: simdjson building nlohmann's DOM (host/common/fast_json.hpp).
        const auto t0 = Steady::now();
        std::size_t keys = 0, declined = 0;
        for (std::int64_t i = 0; i < N; ++i) {
            json j;
            if (casehub::host::parse_json_fast(recs[static_cast<std::size_t>(i) % recs.size()], j)) keys += j.size();
            else ++declined;
        }
        const double r = static_cast<double>(N) / since_s(t0);
        fig("ceiling_hub_json_parse_per_s", r, "records/s");
        if (declined || keys == 0) note("ceiling_hub_json: " + std::to_string(declined) + " records declined");
        res.ceilings.push_back({"hub_json", r});
    }
#ifdef CASEHUB_HAVE_SIMDJSON
    {  // simdjson's DOM parse of the same records (every value materialised, as nlohmann does).
        std::vector<simdjson::padded_string> padded;
        for (const auto& r : recs) padded.emplace_back(r);
        simdjson::dom::parser parser;
        const auto t0 = Steady::now();
        std::size_t keys = 0, failed = 0;
        for (std::int64_t i = 0; i < N; ++i) {
            simdjson::dom::object o;
            if (parser.parse(padded[static_cast<std::size_t>(i) % padded.size()]).get_object().get(o)) ++failed;
            else keys += o.size();
        }
        const double r = static_cast<double>(N) / since_s(t0);
        fig("ceiling_simdjson_parse_per_s", r, "records/s");
        if (failed || keys == 0) note("ceiling_simdjson: " + std::to_string(failed) + " records failed to parse");
        note("ceiling_simdjson: simdjson alone, without the nlohmann DOM the hub's pipeline reads, so not in the ratio");
    }
#else
    note("ceiling_simdjson: skipped (libsimdjson-dev was not found when the bench was configured)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
    const std::string allocator = casehub::host::tune_allocator();  // as casehubd
    Options o = parse_options(argc, argv);
    if (o.phases.count("replay") && !o.phases.count("backfill") && !o.replay_store)
        note("replay reads the backfill's store: the backfill runs too (its figures are not printed)");
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::atexit(kill_children);

    for (const char* p : {"bin/casehubd", "bin/casehub-runner", "bench/plugins/synth_source.so"})
        if (!fs::exists(o.build / p)) {
            std::fprintf(stderr, "casehub-bench: %s is missing (build it, or pass --build DIR)\n", (o.build / p).c_str());
            return 2;
        }
    fs::path work;
    if (o.keep) {
        work = *o.keep;
        if (fs::exists(work) && !fs::is_empty(work)) usage("--keep " + work.string() + " must be empty or absent");
        fs::create_directories(work);
    } else {
        std::string t = (fs::temp_directory_path() / "casehub-bench-XXXXXX").string();
        if (!::mkdtemp(t.data())) usage("cannot create a temporary directory");
        work = t;
    }
    std::snprintf(g_work_message, sizeof g_work_message, "casehub-bench: interrupted; its files are in %s\n", work.c_str());

    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    note(std::string("casehub-bench") + (o.quick ? " --quick" : "") + " on " + host + ", " +
         std::to_string(std::thread::hardware_concurrency()) + " cores; work dir " + work.string());
    if (std::ifstream la("/proc/loadavg"); la) {
        std::string l1, l5;
        la >> l1 >> l5;
        note("load average at start: " + l1 + " (1 min), " + l5 + " (5 min): other work on this machine skews every figure");
    }
    note("allocator of this process (the feed consumer, the in-process ceilings) and of casehubd: " + allocator);
    std::string settings;
    for (const auto& [section, lines] : o.hub_settings)
        for (const auto& l : lines) settings += ", " + section + "." + l;
    note("hub: synchronous=" + o.synchronous + settings + ", otherwise the flow and correlation defaults of config/casehub.toml, http off, command centre off, " +
         std::to_string(o.adapters) + " synth_source adapter(s) (batch_size 1000; at a fixed rate it wakes once per " +
         std::to_string(o.source_tick_us) + " us and emits what fell due, each record timed from when it fell due)");
    note("records: synth_source, casehub.record/1 of about 1.4 KB (record_mean_bytes), 15 % repeat reports of an earlier incident, 90 % of incidents closed, timeline 1,000 records per simulated day");

    Results res;
    const auto t0 = Steady::now();
    try {
        if (o.phases.count("ceilings")) phase_ceilings(o, work, res);
        if (o.phases.count("throughput")) phase_throughput(o, work, res);
        if (o.phases.count("latency")) phase_latency(o, work, res);
        if (o.phases.count("backfill") || o.phases.count("replay"))
            phase_backfill_replay(o, work, res, o.phases.count("backfill") > 0, o.phases.count("replay") > 0);
    } catch (const std::exception& e) {
        progress(std::string("error: ") + e.what());
        res.ok = false;
    }
    if (!res.ceilings.empty()) {
        auto tight = *std::min_element(res.ceilings.begin(), res.ceilings.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
        fig("ceiling_tightest", tight.second, "records/s");
        note("ceiling_tightest is " + tight.first);
        if (res.end_to_end) fig("ratio_end_to_end_to_tightest_ceiling", *res.end_to_end / tight.second, "", 3);
    }
    fig("bench_wall_s", since_s(t0), "s", 1);
    fig("bench_ok", res.ok ? 1 : 0, "");
    if (!o.keep && res.ok) fs::remove_all(work);
    else progress("kept " + work.string());
    kill_children();
    return res.ok ? 0 : 1;
}
