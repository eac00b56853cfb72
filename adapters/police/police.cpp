// cn.gov.qinhuai.police: 公安 非警务警情移交 through the one-way boundary exchange
// (police-interface.md V1.2; decisions in docs/adapters/police.md).
//
// Ingest: the ferry drops batch pairs JQ_<batch>.jsonl + JQ_<batch>.manifest into inbox/. A
// pair is accepted when the manifest is valid and the records file matches its SHA-256 and
// count (a CR the ferry added is removed first); an incomplete pair is checked again at every
// scan and rejected (inbox/rejected/ + <batch>.reason) when it still does not match
// `reject_after_s` after it arrived. Accepted records are emitted; the pair moves to inbox/done/
// only once the hub has acknowledged them, so a crash at any moment loses nothing. A batch id
// already in done/ (re-delivery after a ferry restart) moves to done/ as <name>.dup.
//
// Cursor: {"v":1,"pending":[batch ids emitted but perhaps not yet moved to done/]}. After a
// restart a pending batch still in inbox/ was committed by the hub and is only moved; one that
// is not pending is read again. done/ itself is the memory of accepted batch ids (§2: 30 days).
//
// mj = 2 records are dropped before anything is read from them: counted, logged as a number
// with the batch id, scrubbed from the archived batch file, never emitted or dead-lettered.
//
// Write-back: each hub action becomes a feedback pair JQFK_<batch>.jsonl + manifest in outbox/
// (§7), each file written under a temporary name and renamed, the manifest last; fkid is the
// hub's write-back key, so a retry is ignored by the police side.
#include "police_mapping.hpp"

#include <casehub/sdk/plugin.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace {

namespace fs = std::filesystem;
namespace sdk = casehub::sdk;
using nlohmann::json;
using namespace qinhuai::police;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Modification time of a file in epoch ms; nullopt when it does not exist.
std::optional<std::int64_t> mtime_ms(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

std::optional<std::string> read_file(const fs::path& p, std::string* error) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        if (error) *error = std::string("cannot open ") + p.filename().string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        if (error) *error = "cannot read " + p.filename().string();
        return std::nullopt;
    }
    return ss.str();
}

// Writes `data` to dir/name through a temporary name outside the ferry's patterns, fsync'd,
// then renamed. Throws sdk::Unavailable on failure (disk full, permissions: transient for the
// hub, which retries).
void write_atomic(const fs::path& dir, const std::string& name, std::string_view data) {
    const fs::path tmp = dir / (".casehub-" + name + ".tmp");
    const fs::path dst = dir / name;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw sdk::Unavailable("cannot create " + tmp.string() + ": " + std::strerror(errno));
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw sdk::Unavailable("cannot write " + tmp.string() + ": " + std::strerror(e));
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw sdk::Unavailable("cannot write " + tmp.string() + ": " + std::strerror(e));
    }
    if (::rename(tmp.c_str(), dst.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw sdk::Unavailable("cannot rename to " + dst.string() + ": " + std::strerror(e));
    }
}

const std::regex& batch_name() {
    static const std::regex re(R"(^JQ_([0-9]{14}_[0-9]{4})\.(jsonl|manifest)$)");
    return re;
}

class PoliceAdapter : public sdk::Source {
public:
    PoliceAdapter(sdk::Host& host, const json& config) : host_(host) {
        if (!config.contains("exchange_dir") || !config["exchange_dir"].is_string() ||
            config["exchange_dir"].get<std::string>().empty())
            throw sdk::ConfigError("exchange_dir is required: the folder holding inbox/ and outbox/");
        root_ = config["exchange_dir"].get<std::string>();
        inbox_ = root_ / "inbox";
        done_ = inbox_ / "done";
        rejected_ = inbox_ / "rejected";
        outbox_ = root_ / "outbox";
        // The host fills in the schema's defaults; the same defaults apply when a test host
        // passes a partial configuration.
        scan_interval_ = std::chrono::milliseconds(config.value("scan_interval_ms", std::int64_t{1000}));
        reject_after_ms_ = config.value("reject_after_s", std::int64_t{1800}) * 1000;
        sender_ = config.value("sender", std::string("QH-CASEHUB"));
        max_pending_ = config.value("max_pending_batches", std::size_t{64});
        if (sender_.empty()) throw sdk::ConfigError("sender must not be empty");
        if (scan_interval_.count() < 1 || reject_after_ms_ < 1000 || max_pending_ < 1)
            throw sdk::ConfigError("scan_interval_ms, reject_after_s and max_pending_batches must be positive");
        const std::string cat_path = config.value("categories_file", std::string("qinhuai/categories.json"));
        std::string err;
        auto text = read_file(cat_path, &err);
        if (!text) throw sdk::ConfigError("categories_file " + cat_path + ": " + err);
        try {
            categories_ = load_categories(json::parse(*text));
        } catch (const std::exception& e) {
            throw sdk::ConfigError("categories_file " + cat_path + ": " + e.what());
        }
    }

    void start(std::optional<std::string_view> cursor) override {
        restart_pending_.clear();
        if (cursor) {
            json c = json::parse(*cursor, nullptr, false);
            if (!c.is_object() || c.value("v", 0) != 1 || !c.contains("pending") ||
                !c["pending"].is_array())
                throw sdk::Error(CASEHUB_ERR_INVALID_ARGUMENT,
                                 "cursor is not {\"v\":1,\"pending\":[...]}: " +
                                     std::string(cursor->substr(0, 200)));
            for (const auto& id : c["pending"])
                if (id.is_string()) restart_pending_.insert(id.get<std::string>());
        }
        host_.info("police exchange " + root_.string() + ": inbox " + inbox_.string() +
                   ", reject after " + std::to_string(reject_after_ms_ / 1000) + " s, " +
                   std::to_string(restart_pending_.size()) + " batch(es) committed before the restart, " +
                   std::to_string(categories_.by_native.size()) + " category mappings");
        next_scan_ = std::chrono::steady_clock::now();
    }

    void poll(std::chrono::milliseconds timeout) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        do_moves();
        if (std::chrono::steady_clock::now() >= next_scan_) {
            next_scan_ = std::chrono::steady_clock::now() + scan_interval_;
            if (scan(deadline)) next_scan_ = std::chrono::steady_clock::now();  // more to do
        }
        auto wake = std::min(deadline, next_scan_);
        auto now = std::chrono::steady_clock::now();
        if (wake > now && !host_.stop_requested())
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(wake - now, std::chrono::milliseconds(200)));
    }

    void acked(std::uint64_t batch_id) override {
        while (!in_flight_.empty() && in_flight_.front().hub_batch <= batch_id) {
            to_move_.push_back(in_flight_.front().batch);
            in_flight_.pop_front();
        }
        do_moves();
    }

    void write_back(const json& action) override {
        const json fb = feedback_record(action, host_.now_ms());
        std::error_code ec;
        fs::create_directories(outbox_, ec);
        if (ec) throw sdk::Unavailable("outbox " + outbox_.string() + ": " + ec.message());
        const std::int64_t now = host_.now_ms();
        std::string id;
        for (int i = 0; i < 10000; ++i) {
            id = batch_id(now, ++feedback_seq_);
            std::error_code e1, e2;
            if (!fs::exists(outbox_ / ("JQFK_" + id + ".jsonl"), e1) &&
                !fs::exists(outbox_ / ("JQFK_" + id + ".manifest"), e2) && !e1 && !e2)
                break;
        }
        const std::string file = "JQFK_" + id + ".jsonl";
        const std::string body = fb.dump() + "\n";
        write_atomic(outbox_, file, body);
        write_atomic(outbox_, "JQFK_" + id + ".manifest",
                     manifest_text(id, file, now, 1, sdk::sha256_hex(body), kFeedbackSchema, sender_));
        host_.info("feedback " + std::string(fb["fkzt"].get<std::string>()) + " for " +
                   fb["jjdbh"].get<std::string>() + " written to outbox/" + file + " (fkid " +
                   fb["fkid"].get<std::string>() + ")");
    }

    void stop() override {
        if (confidential_total_ > 0)
            host_.warn("stopping: " + std::to_string(confidential_total_) +
                       " mj=2 record(s) discarded since start (see done/<batch>.confidential)");
    }

private:
    struct InFlight {
        std::uint64_t hub_batch;
        std::string batch;
    };

    // The cursor every emit carries: the batches that may still sit in inbox/ after a crash.
    std::string cursor_with(const std::string& current) const {
        std::set<std::string> ids(restart_pending_.begin(), restart_pending_.end());
        for (const auto& f : in_flight_) ids.insert(f.batch);
        ids.insert(to_move_.begin(), to_move_.end());
        if (!current.empty()) ids.insert(current);
        return json{{"v", 1}, {"pending", ids}}.dump();
    }

    bool busy(const std::string& id) const {
        for (const auto& f : in_flight_)
            if (f.batch == id) return true;
        return std::find(to_move_.begin(), to_move_.end(), id) != to_move_.end();
    }

    void health(sdk::Health h, const std::string& msg) {
        if (h == health_ && msg == health_msg_) return;
        health_ = h;
        health_msg_ = msg;
        host_.set_health(h, msg);
    }

    // One look at inbox/. Returns true when it stopped early with work left.
    bool scan(std::chrono::steady_clock::time_point deadline) {
        std::error_code ec;
        std::map<std::string, std::pair<bool, bool>> pairs;  // id → (jsonl, manifest)
        fs::directory_iterator it(inbox_, ec), end;
        if (ec) {
            const std::string msg = "inbox " + inbox_.string() + " unreadable: " + ec.message();
            if (health_ != sdk::Health::degraded || health_msg_ != msg) host_.error(msg + "; retrying");
            health(sdk::Health::degraded, msg);
            throw sdk::Unavailable(msg);
        }
        for (; it != end; it.increment(ec)) {
            if (ec) break;
            std::error_code e2;
            if (!it->is_regular_file(e2)) continue;
            std::smatch m;
            const std::string name = it->path().filename().string();
            if (!std::regex_match(name, m, batch_name())) continue;  // temp names, strays
            auto& p = pairs[m[1].str()];
            (m[2].str() == "jsonl" ? p.first : p.second) = true;
        }
        // Batches the hub committed before a restart: only their move to done/ is left.
        for (auto rp = restart_pending_.begin(); rp != restart_pending_.end();) {
            if (pairs.count(*rp) == 0) {
                rp = restart_pending_.erase(rp);
                continue;
            }
            if (!busy(*rp) && move_accepted(*rp)) {
                host_.info("batch " + *rp + " was committed before the restart: moved to done/");
                pairs.erase(*rp);
                rp = restart_pending_.erase(rp);
            } else {
                pairs.erase(*rp);
                ++rp;
            }
        }
        for (auto w = waiting_.begin(); w != waiting_.end();)
            w = pairs.count(w->first) ? std::next(w) : waiting_.erase(w);

        bool stuck = false;
        for (const auto& [id, p] : pairs) {
            if (busy(id)) continue;
            if (in_flight_.size() + to_move_.size() >= max_pending_) {
                health(sdk::Health::degraded,
                       std::to_string(in_flight_.size() + to_move_.size()) +
                           " batches wait for the hub's acknowledgement or their move to done/");
                stuck = true;
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) return true;
            evaluate(id, p.first, p.second);
        }
        if (!stuck && to_move_.empty()) health(sdk::Health::ok, "");
        return false;
    }

    void wait_or_reject(const std::string& id, const fs::path& arrived, const std::string& problem) {
        const auto t = mtime_ms(arrived);
        if (t && wall_ms() - *t >= reject_after_ms_) {
            reject(id, problem + " (still after " + std::to_string((wall_ms() - *t) / 1000) + " s)");
            return;
        }
        // Logged once per kind of problem, not at every growth step of the records file.
        const std::string kind = problem.substr(0, problem.find(" ("));
        auto& w = waiting_[id];
        if (w != kind) {
            host_.info("batch " + id + " incomplete, checked again later: " + problem);
            w = kind;
        }
    }

    void evaluate(const std::string& id, bool has_jsonl, bool has_manifest) {
        const fs::path jp = inbox_ / ("JQ_" + id + ".jsonl");
        const fs::path mp = inbox_ / ("JQ_" + id + ".manifest");
        if (!has_manifest) return wait_or_reject(id, jp, "no manifest");
        std::string err;
        auto mbytes = read_file(mp, &err);
        if (!mbytes) return wait_or_reject(id, mp, err);
        auto mr = parse_manifest(*mbytes, id);
        if (mr.state == ManifestResult::State::invalid) return reject(id, mr.problem);
        if (mr.state == ManifestResult::State::incomplete) return wait_or_reject(id, mp, mr.problem);
        if (!has_jsonl) return wait_or_reject(id, mp, "records file " + mr.manifest.file + " not there yet");
        auto body = read_file(jp, &err);
        if (!body) return wait_or_reject(id, mp, err);
        auto check = check_body(*body, mr.manifest);
        if (!check.ok) return wait_or_reject(id, mp, check.problem);
        waiting_.erase(id);
        std::error_code ec;
        const bool accepted_before = fs::exists(done_ / ("JQ_" + id + ".manifest"), ec);
        if (ec) {  // cannot tell a re-delivery from a new batch: look again at the next scan
            host_.warn("batch " + id + ": cannot look into " + done_.string() + ": " + ec.message());
            return;
        }
        if (accepted_before) {
            // §8.2 / case-model §5.1: a re-delivered batch, already accepted.
            if (move_pair(id, done_, ".dup"))
                host_.info("batch " + id + " re-delivered (already accepted): moved to done/ as .dup, nothing emitted");
            return;
        }
        process(id, mr.manifest, check.lines);
    }

    void process(const std::string& id, const Manifest& m, const std::vector<std::string>& lines) {
        const std::string cursor = cursor_with(id);
        const std::int64_t received = host_.now_ms();
        std::vector<std::string> records;
        records.reserve(lines.size());
        std::size_t confidential = 0, dead = 0, warnings = 0;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const std::string where = "batch " + id + " line " + std::to_string(i + 1);
            LineResult r = map_line(lines[i], categories_, received);
            switch (r.kind) {
                case LineResult::Kind::confidential:
                    ++confidential;  // nothing of it is kept, not even its id
                    break;
                case LineResult::Kind::dead_letter:
                    ++dead;
                    host_.dead_letter(r.reason,
                                      where + (r.record_id.empty() ? "" : " (jjdbh " + r.record_id + ")") +
                                          ": " + r.detail,
                                      r.native_masked, cursor);
                    break;
                case LineResult::Kind::record:
                    records.push_back(std::move(r.record));
                    break;
            }
            for (const auto& w : r.warnings) {
                ++warnings;
                host_.debug(where + " (jjdbh " + r.record_id + "): " + w);
            }
        }
        if (confidential > 0) {
            confidential_total_ += confidential;
            host_.warn("batch " + id + ": " + std::to_string(confidential) +
                       " record(s) with mj=2 (涉密) discarded unread (§6): report the count and batch id to "
                       "秦淮分局指挥中心; " + std::to_string(confidential_total_) + " since start");
        }
        const std::uint64_t hub_batch = host_.emit(records, cursor);
        in_flight_.push_back({hub_batch, id});
        host_.info("batch " + id + " accepted (" + std::to_string(m.count) + " lines, sender " + m.sender +
                   "): " + std::to_string(records.size()) + " records, " + std::to_string(dead) +
                   " dead letters, " + std::to_string(confidential) + " mj=2 dropped, " +
                   std::to_string(warnings) + " field notes");
    }

    // Moves whatever of the pair is in inbox/ to `dir` (suffix appended to the names), the
    // records file without its mj=2 lines. Returns false (and logs) on failure.
    bool move_pair(const std::string& id, const fs::path& dir, const std::string& suffix,
                   std::size_t* removed_out = nullptr) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        try {
            if (ec) throw sdk::Unavailable("cannot create " + dir.string() + ": " + ec.message());
            const std::string jn = "JQ_" + id + ".jsonl", mn = "JQ_" + id + ".manifest";
            auto target = [&](const std::string& name) {
                std::string t = name + suffix;
                for (int n = 2; !suffix.empty() && fs::exists(dir / t); ++n) t = name + suffix + "." + std::to_string(n);
                return t;
            };
            const fs::path jp = inbox_ / jn;
            if (fs::exists(jp)) {
                std::string err;
                auto raw = read_file(jp, &err);
                if (!raw) throw sdk::Unavailable(err);
                auto [kept, removed] = scrub_confidential(*raw);
                if (removed_out) *removed_out = removed;
                if (removed > 0) {
                    write_atomic(dir, target(jn), kept);
                    fs::remove(jp);
                } else {
                    fs::rename(jp, dir / target(jn));
                }
            }
            const fs::path mp = inbox_ / mn;
            if (fs::exists(mp)) fs::rename(mp, dir / target(mn));
            if (move_failing_) {
                host_.info("moves in " + inbox_.string() + " work again");
                move_failing_ = false;
            }
            return true;
        } catch (const std::exception& e) {
            if (!move_failing_)
                host_.error("cannot move batch " + id + " to " + dir.string() + ": " + e.what() + "; retrying");
            move_failing_ = true;
            health(sdk::Health::degraded, "cannot move batches out of inbox/");
            return false;
        }
    }

    bool move_accepted(const std::string& id) {
        std::size_t removed = 0;
        if (!move_pair(id, done_, "", &removed)) return false;
        if (removed > 0) {
            try {
                write_atomic(done_, id + ".confidential",
                             std::to_string(removed) + " record(s) with mj=2 (涉密) received in batch " + id +
                                 " and discarded by the adapter on " + format_now() +
                                 "; removed from this copy. Report the count and the batch id to "
                                 "秦淮分局指挥中心 within one working day (§6).\n");
            } catch (const std::exception& e) {
                host_.error("batch " + id + ": cannot write the mj=2 note: " + e.what());
            }
        }
        return true;
    }

    void do_moves() {
        for (auto it = to_move_.begin(); it != to_move_.end();) {
            if (move_accepted(*it)) it = to_move_.erase(it);
            else break;  // retried at the next poll
        }
    }

    void reject(const std::string& id, const std::string& reason) {
        std::error_code ec;
        fs::create_directories(rejected_, ec);
        try {
            write_atomic(rejected_, id + ".reason", "rejected " + format_now() + ": " + reason + "\n");
        } catch (const std::exception& e) {
            host_.error("batch " + id + ": cannot write its .reason: " + e.what());
            return;
        }
        if (move_pair(id, rejected_, "")) {
            waiting_.erase(id);
            host_.warn("batch " + id + " rejected: " + reason + " (inbox/rejected/" + id + ".reason)");
        }
    }

    std::string format_now() const { return sdk::format_rfc3339_beijing(wall_ms()); }

    sdk::Host& host_;
    fs::path root_, inbox_, done_, rejected_, outbox_;
    std::chrono::milliseconds scan_interval_{1000};
    std::int64_t reject_after_ms_ = 1'800'000;
    std::string sender_;
    std::size_t max_pending_ = 64;
    Categories categories_;

    std::set<std::string> restart_pending_;
    std::deque<InFlight> in_flight_;
    std::deque<std::string> to_move_;
    std::map<std::string, std::string> waiting_;  // batch id → last problem logged
    std::chrono::steady_clock::time_point next_scan_{};
    std::uint64_t confidential_total_ = 0;
    unsigned feedback_seq_ = 0;
    bool move_failing_ = false;
    sdk::Health health_ = sdk::Health::ok;
    std::string health_msg_;
};

constexpr const char* kSchema = R"json([
  {"name": "exchange_dir", "type": "path", "required": true,
   "help": "the receiving server's exchange folder: the ferry writes batches into <exchange_dir>/inbox/ and takes feedback from <exchange_dir>/outbox/; accepted batches go to inbox/done/, rejected ones to inbox/rejected/ with <batch>.reason"},
  {"name": "categories_file", "type": "path", "default": "qinhuai/categories.json",
   "help": "the district's categories.json; its mapping police.bjxl gives category.code for bjxldm"},
  {"name": "scan_interval_ms", "type": "integer", "default": 1000, "min": 50, "max": 60000,
   "help": "how often inbox/ is scanned for new or completed batches"},
  {"name": "reject_after_s", "type": "integer", "default": 1800, "min": 1, "max": 86400,
   "help": "a batch that still does not match its manifest this many seconds after it arrived is rejected (document: 30 minutes)"},
  {"name": "max_pending_batches", "type": "integer", "default": 64, "min": 1, "max": 150,
   "help": "most accepted batches waiting for the hub's acknowledgement before inbox/ is left alone (bounds the cursor)"},
  {"name": "sender", "type": "string", "default": "QH-CASEHUB",
   "help": "the district platform's code issued at registration: `sender` of feedback manifests (§7)"}
])json";

}  // namespace

CASEHUB_PLUGIN(PoliceAdapter,
    .name = "cn.gov.qinhuai.police",
    .version = "1.0.0",
    .description = "公安 非警务警情移交: batch files through the one-way boundary exchange (inbox/ with SHA-256 manifests), feedback to outbox/",
    .config_schema = kSchema,
    .capabilities = CASEHUB_CAP_WRITE_BACK | CASEHUB_CAP_ACK)
