// enforcement: the 综合行政执法办案系统 CSV exchange (enforcement-interface.md V1.2) as a casehub
// source.
//
// The exporter drops `ZFAJ_yyyyMMddHHmmss_NNN.csv` files into the exchange folder (written as
// `.tmp`, then renamed). This adapter takes them one at a time in name order, validates the
// whole file (header, trailer `#END,<n>`), emits its rows as casehub.record/1 in batches whose
// cursor is `<file>#<rows committed>`, and moves the file to `done/` only once the hub has acked
// its last batch; a file that cannot be processed goes to `rejected/` with a `<name>.reason`
// (§2, §8). The exchange is read-only: there is no write-back.
//
// Restarts are exact: the hub commits the cursor with the records, and because one file is
// finished (acked and moved) before the next is started, the cursor file is the only one in
// the folder with committed rows. On start, that file resumes at the committed row; if all its
// rows were committed it is moved to done/ without emitting anything again.
#include "enforcement_mapping.hpp"

#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace sdk = casehub::sdk;
using enforcement::Cursor;

class EnforcementSource : public sdk::Source {
public:
    EnforcementSource(sdk::Host& host, const nlohmann::json& config)
        : host_(host),
          dir_(config.at("dir").get<std::string>()),
          grace_(std::chrono::seconds(config.at("incomplete_grace_s").get<int>())),
          batch_size_(config.at("batch_size").get<int>()),
          scan_interval_(config.at("scan_interval_ms").get<int>()) {
        const std::string cats = config.at("categories_file").get<std::string>();
        try {
            categories_ = enforcement::Categories::load(cats);
        } catch (const std::exception& e) {
            throw sdk::ConfigError(std::string("categories_file: ") + e.what());
        }
        if (dir_.empty()) throw sdk::ConfigError("dir: the exchange folder (ZFAJ/) must be set");
        if (batch_size_ < 1) throw sdk::ConfigError("batch_size must be >= 1");
    }

    void start(std::optional<std::string_view> cursor) override {
        cursor_.reset();
        current_.reset();
        pending_.reset();
        waiting_logged_.clear();
        if (cursor) {
            cursor_ = Cursor::parse(*cursor);
            if (!cursor_)
                throw sdk::Error(CASEHUB_ERR_INVALID_ARGUMENT,
                                 "cursor '" + std::string(*cursor) + "' is not <file>#<rows>");
        }
        host_.info("enforcement: watching " + dir_.string() + (cursor_ ? ", resuming after " + cursor_->str() : ", first run"));
    }

    void poll(std::chrono::milliseconds timeout) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        if (pending_) {
            if (acked_ < pending_->batch) {
                std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(20)));
                return;
            }
            move_to(pending_->file, "done");
            host_.info("enforcement: " + pending_->file + " done (" + std::to_string(pending_->rows) + " rows, " +
                       std::to_string(pending_->emitted) + " records, " + std::to_string(pending_->dead) +
                       " dead letters)");
            pending_.reset();
        }
        if (current_) {
            emit_some(deadline);
            return;
        }
        if (!open_next()) {
            std::this_thread::sleep_for(std::min(timeout, scan_interval_));
            return;
        }
        emit_some(deadline);
    }

    void acked(std::uint64_t batch_id) override {
        std::uint64_t cur = acked_.load();
        while (cur < batch_id && !acked_.compare_exchange_weak(cur, batch_id)) {
        }
    }

private:
    struct Current {
        std::string name;
        enforcement::ParsedFile file;
        std::size_t next = 0;  // next data row to read
        std::size_t emitted = 0, dead = 0;
        bool last_was_letter = false;
    };
    struct Pending {
        std::string file;
        std::uint64_t batch = 0;
        std::size_t rows = 0, emitted = 0, dead = 0;
    };

    [[noreturn]] void unavailable(const std::string& what) {
        host_.error("enforcement: " + what);
        host_.set_health(sdk::Health::down, what);
        throw sdk::Unavailable(what);
    }

    void ensure_dirs() {
        std::error_code ec;
        if (!fs::is_directory(dir_, ec))
            unavailable("exchange folder " + dir_.string() + " is not reachable (share not mounted?)");
        for (const char* sub : {"done", "rejected"}) {
            fs::create_directories(dir_ / sub, ec);
            if (ec) unavailable("cannot create " + (dir_ / sub).string() + ": " + ec.message());
        }
    }

    void move_to(const std::string& name, const char* sub) {
        std::error_code ec;
        fs::rename(dir_ / name, dir_ / sub / name, ec);
        if (ec && fs::exists(dir_ / name)) unavailable("cannot move " + name + " to " + sub + "/: " + ec.message());
    }

    void reject(const std::string& name, const std::string& reason) {
        const fs::path final_reason = dir_ / "rejected" / (name + ".reason");
        const fs::path tmp = dir_ / "rejected" / (name + ".reason.tmp");
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out << name << ": " << reason << "\n";
            if (!out) unavailable("cannot write " + tmp.string());
        }
        std::error_code ec;
        fs::rename(tmp, final_reason, ec);
        if (ec) unavailable("cannot write " + final_reason.string() + ": " + ec.message());
        move_to(name, "rejected");
        host_.warn("enforcement: " + name + " rejected: " + reason);
    }

    // The export files now in the folder, in name order, the cursor's file first.
    std::vector<std::string> list_files() {
        ensure_dirs();
        std::vector<std::string> names;
        std::error_code ec;
        for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code e2;
            if (!it->is_regular_file(e2)) continue;
            const std::string n = it->path().filename().string();
            if (enforcement::export_file_name(n)) {
                names.push_back(n);
            } else if (n.size() < 4 || n.compare(n.size() - 4, 4, ".tmp") != 0) {
                if (ignored_.insert(n).second)
                    host_.warn("enforcement: ignoring " + n + " (not an export file name ZFAJ_yyyyMMddHHmmss_NNN.csv)");
            }
        }
        if (ec) unavailable("cannot list " + dir_.string() + ": " + ec.message());
        std::sort(names.begin(), names.end());
        if (cursor_) {
            auto it = std::find(names.begin(), names.end(), cursor_->file);
            if (it != names.end() && it != names.begin()) std::rotate(names.begin(), it, it + 1);
        }
        return names;
    }

    // Loads the next file to emit. Returns false when there is nothing to do now.
    bool open_next() {
        for (const std::string& name : list_files()) {
            const fs::path p = dir_ / name;
            std::string bytes;
            {
                std::ifstream in(p, std::ios::binary);
                if (!in) {
                    if (!fs::exists(p)) continue;  // moved away meanwhile
                    unavailable("cannot read " + p.string());
                }
                std::ostringstream ss;
                ss << in.rdbuf();
                bytes = ss.str();
            }
            auto parsed = enforcement::parse_file(std::move(bytes));
            if (!parsed.reject.empty()) {
                if (parsed.trailer_missing) {
                    std::error_code ec;
                    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(p, ec);
                    if (!ec && age < grace_) {
                        // Perhaps still being written (a copy without .tmp): wait, keep name order.
                        if (waiting_logged_.insert(name).second)
                            host_.info("enforcement: " + name + " has no valid trailer yet; waiting up to " +
                                       std::to_string(grace_.count()) + " s from its last change before rejecting it");
                        return false;
                    }
                }
                reject(name, parsed.reject);
                continue;
            }
            std::size_t start = 0;
            if (cursor_ && cursor_->file == name) {
                start = cursor_->rows;
                if (start >= parsed.rows.size()) {
                    // Every row is in the hub already: killed between the last ack and the move.
                    move_to(name, "done");
                    host_.info("enforcement: " + name + " was fully committed before the restart; moved to done/ without emitting");
                    continue;
                }
                host_.info("enforcement: resuming " + name + " at row " + std::to_string(start + 1) + " of " +
                           std::to_string(parsed.rows.size()));
            }
            if (parsed.blank_lines > 0)
                host_.debug("enforcement: " + name + ": " + std::to_string(parsed.blank_lines) + " blank line(s) ignored");
            current_ = Current{name, std::move(parsed), start};
            host_.set_health(sdk::Health::ok);
            return true;
        }
        host_.set_health(sdk::Health::ok);
        return false;
    }

    void emit_some(std::chrono::steady_clock::time_point deadline) {
        Current& c = *current_;
        const auto& rows = c.file.rows;
        const std::string received = sdk::format_rfc3339_beijing(host_.now_ms());
        std::vector<std::string> batch;
        std::uint64_t last_batch = 0;
        bool emitted_any = false;
        auto flush = [&](std::size_t upto) {
            last_batch = host_.emit(batch, Cursor{c.name, upto}.str());
            cursor_ = Cursor{c.name, upto};
            c.emitted += batch.size();
            batch.clear();
            emitted_any = true;
            c.last_was_letter = false;
        };
        while (c.next < rows.size()) {
            const auto& row = rows[c.next];
            const std::string where = c.name + " line " + std::to_string(row.line);
            std::vector<std::string> fields;
            bool decoded = true;
            for (const auto& f : row.fields) {
                auto u = enforcement::to_utf8(f, c.file.encoding);
                if (!u) {
                    decoded = false;
                    break;
                }
                fields.push_back(std::move(*u));
            }
            enforcement::RowResult r;
            if (decoded) {
                r = enforcement::map_row(fields, row.bytes, categories_, received, where);
            } else {
                r.reason = "not_decodable";
                r.detail = where + ": bytes are not valid " + std::string(enforcement::encoding_name(c.file.encoding));
            }
            for (const auto& w : r.warnings) host_.warn("enforcement: " + w);
            if (r.record) {
                batch.push_back(r.record->dump());
            } else {
                if (!batch.empty()) flush(c.next);
                const std::string native = decoded ? enforcement::masked_row_text(fields) : std::string();
                host_.warn("enforcement: dead letter (" + r.reason + "): " + r.detail);
                host_.dead_letter(r.reason, r.detail, native, Cursor{c.name, c.next + 1}.str());
                cursor_ = Cursor{c.name, c.next + 1};
                c.last_was_letter = true;
                ++c.dead;
            }
            ++c.next;
            if (static_cast<int>(batch.size()) >= batch_size_) {
                flush(c.next);
                if (std::chrono::steady_clock::now() >= deadline) break;
            }
        }
        if (!batch.empty()) flush(c.next);
        if (c.next < rows.size()) return;
        // The whole file is handed over. A trailing dead letter has no batch id: an empty batch
        // with the final cursor gives one, so the move waits until everything is committed.
        if (!emitted_any || c.last_was_letter) {
            last_batch = host_.emit({}, Cursor{c.name, c.next}.str());
            cursor_ = Cursor{c.name, c.next};
        }
        pending_ = Pending{c.name, last_batch, rows.size(), c.emitted, c.dead};
        current_.reset();
    }

    sdk::Host& host_;
    fs::path dir_;
    std::chrono::seconds grace_;
    int batch_size_;
    std::chrono::milliseconds scan_interval_;
    enforcement::Categories categories_;

    std::optional<Cursor> cursor_;
    std::optional<Current> current_;
    std::optional<Pending> pending_;
    std::atomic<std::uint64_t> acked_{0};  // acked() may come from the host's thread
    std::set<std::string> ignored_, waiting_logged_;
};

constexpr const char* kConfigSchema = R"json([
  {"name": "dir", "type": "path", "required": true,
   "help": "the exchange folder ZFAJ/ as mounted from the bureau's front-end server; done/ and rejected/ are created inside it"},
  {"name": "categories_file", "type": "path", "default": "qinhuai/categories.json",
   "help": "categories.json with the enforcement.zfsx mapping of 执法事项编码 to the common taxonomy"},
  {"name": "incomplete_grace_s", "type": "integer", "default": 120, "min": 0, "max": 86400,
   "help": "a file without a valid trailer is left in place this many seconds after its last change (it may still be being copied) before it is moved to rejected/"},
  {"name": "batch_size", "type": "integer", "default": 500, "min": 1, "max": 5000,
   "help": "most records handed to the hub in one batch"},
  {"name": "scan_interval_ms", "type": "integer", "default": 2000, "min": 50, "max": 600000,
   "help": "how often the folder is listed when there is nothing to do"}
])json";

}  // namespace

CASEHUB_PLUGIN(EnforcementSource,
    .name = "cn.gov.qinhuai.enforcement",
    .version = "1.0.0",
    .description = "综合行政执法办案系统: CSV case files (GB18030 / UTF-8 with BOM) from the ZFAJ exchange folder; read-only",
    .config_schema = kConfigSchema)
