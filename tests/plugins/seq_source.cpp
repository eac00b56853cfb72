// seq_source: a test source that emits records numbered 1, 2, 3... at a steady rate.
//
// Its cursor is the next number, so after any crash or restart the hub can check that it holds
// every number exactly once. Options make it misbehave on cue: crash (abort) or hang (never
// return from poll) a while after start, for the supervisor tests.
#include <casehub/sdk/plugin.hpp>

#include <chrono>
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
          letter_every_(c.at("dead_letter_every").get<std::int64_t>()) {}

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
            recs.push_back(record(no));
        }
        host_.emit(recs, std::to_string(next_ + n));
        next_ += n;
        sent_ += n;
    }

private:
    static std::string record(std::int64_t no) {
        const std::string id = std::to_string(no);
        return R"({"schema":"casehub.record/1","source":{"system":"seq","record_id":")" + id +
               R"(","version":"1","received_at":"2026-03-09T09:00:00+08:00"},"kind":"event","appeal_type":null,)"
               R"("channel":"grid_worker","category":{"code":"city_appearance.exposed_garbage","native":{"scheme":"seq.category","code":"0102","name":"暴露垃圾"}},)"
               R"("description":"测试记录 )" + id +
               R"(","status":"new","status_native":"01","times":{"reported_at":"2026-03-09T09:00:00+08:00","updated_at":"2026-03-09T09:00:00+08:00"},)"
               R"("reporter":{"kind":"grid_worker"},"confidentiality":"public","raw_sha256":"0000000000000000000000000000000000000000000000000000000000000000"})";
    }

    casehub::sdk::Host& host_;
    std::int64_t count_;
    double rate_;
    std::int64_t batch_, crash_after_ms_, hang_after_ms_, letter_every_;
    std::int64_t next_ = 1, sent_ = 0;
    Clock::time_point t0_;
};

constexpr const char* kSchema = R"json([
  {"name": "count", "type": "integer", "default": 0, "min": 0, "help": "records in all (0: endless)"},
  {"name": "rate_per_second", "type": "number", "default": 500, "min": 0.001, "help": "records per second"},
  {"name": "batch_size", "type": "integer", "default": 50, "min": 1, "max": 10000, "help": "most records per batch"},
  {"name": "crash_after_ms", "type": "integer", "default": 0, "min": 0, "help": "abort() this long after start (0: never)"},
  {"name": "hang_after_ms", "type": "integer", "default": 0, "min": 0, "help": "stop returning from poll this long after start (0: never)"},
  {"name": "dead_letter_every", "type": "integer", "default": 0, "min": 0, "help": "every Nth record becomes a dead letter (0: none)"}
])json";

}  // namespace

CASEHUB_PLUGIN(SeqSource, .name = "org.casehub.test.seq", .version = "1.0.0",
               .description = "Test source: numbered records at a steady rate", .config_schema = kSchema)
