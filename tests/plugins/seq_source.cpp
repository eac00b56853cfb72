// seq_source: a test source that emits records numbered 1, 2, 3... at a steady rate.
//
// Its cursor is the next number, so after any crash or restart the hub can check that it holds
// every number exactly once. Options make it misbehave on cue: crash (abort) or hang (never
// return from poll) a while after start, for the supervisor tests.
#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/sha256.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

class SeqSource : public casehub::sdk::Source {
public:
    SeqSource(casehub::sdk::Host& host, const nlohmann::json& c)
        : host_(host),
          count_(c.at("count").get<std::int64_t>()),
          rate_(c.at("rate_per_second").get<double>()),
          batch_(c.at("batch_size").get<std::int64_t>()),
          crash_after_ms_(c.at("crash_after_ms").get<std::int64_t>()),
          hang_after_ms_(c.at("hang_after_ms").get<std::int64_t>()),
          letter_every_(c.at("dead_letter_every").get<std::int64_t>()),
          mix_(c.at("mix").get<bool>()),
          streets_(c.at("streets").get<bool>()),
          writeback_log_(c.at("writeback_log").get<std::string>()),
          writeback_unavailable_(c.at("writeback_unavailable").get<std::int64_t>()),
          writeback_refuse_(c.at("writeback_refuse").get<std::string>()) {}

    // Appends each applied action to writeback_log; the first writeback_unavailable calls are
    // transient failures; an action named writeback_refuse is refused for good.
    void write_back(const nlohmann::json& action) override {
        if (writeback_calls_++ < writeback_unavailable_)
            throw casehub::sdk::Unavailable("source busy (call " + std::to_string(writeback_calls_) + ")");
        if (action.value("action", "") == writeback_refuse_)
            throw casehub::sdk::Error(CASEHUB_ERR_INVALID_ARGUMENT, "the source refuses " + writeback_refuse_);
        if (writeback_log_.empty()) return;
        FILE* f = std::fopen(writeback_log_.c_str(), "a");
        if (f == nullptr) throw casehub::sdk::Unavailable("cannot open " + writeback_log_);
        const std::string line = action.dump() + "\n";
        std::fwrite(line.data(), 1, line.size(), f);
        std::fclose(f);
    }

    void start(std::optional<std::string_view> cursor) override {
        next_ = cursor ? std::stoll(std::string(*cursor)) : 1;
        t0_ = Clock::now();
        sent_ = 0;
    }

    void poll(std::chrono::milliseconds timeout) override {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0_).count();
        if (crash_after_ms_ > 0 && ms >= crash_after_ms_) std::abort();
        if (hang_after_ms_ > 0 && ms >= hang_after_ms_)
            for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
        if (count_ > 0 && next_ > count_) {
            std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(20)));
            return;
        }
        const auto due = static_cast<std::int64_t>(static_cast<double>(ms) * rate_ / 1000.0) + 1;
        std::int64_t n = std::min(due - sent_, batch_);
        if (count_ > 0) n = std::min(n, count_ - next_ + 1);
        if (n <= 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            return;
        }
        std::vector<std::string> recs;
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t no = next_ + i;
            if (letter_every_ > 0 && no % letter_every_ == 0) {
                host_.dead_letter("bad_native", "record " + std::to_string(no) + " is deliberately unreadable",
                                  "<seq " + std::to_string(no) + ">", std::to_string(no));
                continue;
            }
            if (!mix_) {
                recs.push_back(record(no, "1", "new", "测试记录", kTime));
                continue;
            }
            // Per ten numbers: one invalid (bad_time), one duplicate, one update followed by
            // a stale copy, one same-version change — 14 records, each with a known outcome.
            switch (no % 10) {
                case 0: recs.push_back(record(no, "1", "new", "测试记录", "2026-03-09 09:00:00")); break;
                case 3:
                    recs.push_back(record(no, "1", "new", "测试记录", kTime));
                    recs.push_back(record(no, "1", "new", "测试记录", kTime));  // duplicate
                    break;
                case 5:
                    recs.push_back(record(no, "1", "new", "测试记录", kTime));
                    recs.push_back(record(no, "2", "dispatched", "测试记录", kTime));  // newer
                    recs.push_back(record(no, "1", "new", "旧的记录", kTime));         // stale
                    break;
                case 7:
                    recs.push_back(record(no, "1", "new", "测试记录", kTime));
                    recs.push_back(record(no, "1", "registered", "改过的记录", kTime));  // same version, changed
                    break;
                default: recs.push_back(record(no, "1", "new", "测试记录", kTime));
            }
        }
        host_.emit(recs, std::to_string(next_ + n));
        next_ += n;
        sent_ += n;
    }

private:
    static constexpr const char* kTime = "2026-03-09T09:00:00+08:00";
    static constexpr const char* kGrids[] = {"32010400200501", "32010400900601", "32010401100301"};

    std::string record(std::int64_t no, const char* version, const char* status, const char* text,
                       const char* reported_at) const {
        const std::string id = std::to_string(no);
        const std::string body = std::string(text) + " " + id + " v" + version;
        std::string loc = streets_ ? std::string(R"("location":{"original":null,"address":null,"grid_code":")") +
                                         kGrids[no % 3] + "\"},"
                                   : std::string();
        return R"({"schema":"casehub.record/1","source":{"system":"seq","record_id":")" + id +
               R"(","version":")" + version + R"(","received_at":"2026-03-09T09:00:00+08:00"},"kind":"event","appeal_type":null,)"
               R"("channel":"grid_worker","category":{"code":"city_appearance.exposed_garbage","native":{"scheme":"seq.category","code":"0102","name":"暴露垃圾"}},)"
               R"("description":")" + body + R"(","status":")" + status + R"(","status_native":")" + status +
               R"(","times":{"reported_at":")" + reported_at + R"(","updated_at":"2026-03-09T09:00:00+08:00"},)" + loc +
               R"("reporter":{"kind":"grid_worker"},"confidentiality":"public","raw_sha256":")" + casehub::sdk::sha256_hex(body) + R"("})";
    }

    casehub::sdk::Host& host_;
    std::int64_t count_;
    double rate_;
    std::int64_t batch_, crash_after_ms_, hang_after_ms_, letter_every_;
    bool mix_, streets_;
    std::string writeback_log_;
    std::int64_t writeback_unavailable_, writeback_calls_ = 0;
    std::string writeback_refuse_;
    std::int64_t next_ = 1, sent_ = 0;
    Clock::time_point t0_;
};

constexpr const char* kSchema = R"json([
  {"name": "count", "type": "integer", "default": 0, "min": 0, "help": "records in all (0: endless)"},
  {"name": "rate_per_second", "type": "number", "default": 500, "min": 0.001, "help": "records per second"},
  {"name": "batch_size", "type": "integer", "default": 50, "min": 1, "max": 10000, "help": "most records per batch"},
  {"name": "crash_after_ms", "type": "integer", "default": 0, "min": 0, "help": "abort() this long after start (0: never)"},
  {"name": "hang_after_ms", "type": "integer", "default": 0, "min": 0, "help": "stop returning from poll this long after start (0: never)"},
  {"name": "dead_letter_every", "type": "integer", "default": 0, "min": 0, "help": "every Nth record becomes a dead letter (0: none)"},
  {"name": "mix", "type": "boolean", "default": false, "help": "per ten numbers also emit an invalid, a duplicate, a stale and a same-version-changed record"},
  {"name": "streets", "type": "boolean", "default": false, "help": "give records grid codes in three streets (002, 009, 011)"},
  {"name": "writeback_log", "type": "string", "default": "", "help": "append every write-back action (JSON line) to this file"},
  {"name": "writeback_unavailable", "type": "integer", "default": 0, "min": 0, "help": "the first N write-backs fail as transient"},
  {"name": "writeback_refuse", "type": "string", "default": "", "help": "refuse this action (e.g. return) for good"}
])json";

}  // namespace

CASEHUB_PLUGIN(SeqSource, .name = "org.casehub.test.seq", .version = "1.0.0",
               .description = "Test source: numbered records at a steady rate", .config_schema = kSchema,
               .capabilities = CASEHUB_CAP_WRITE_BACK)
