// synth_source: the benchmark's source. Emits realistic ~1 KiB casehub.record/1 documents from
// bench/synth_records.hpp (the same generator casehub-bench times the raw ceilings with), at a
// fixed rate or as fast as the host's credit allows.
//
// Cursor = the next record number, so a restart resumes exactly. source.received_at carries the
// emit time in microseconds (CLOCK_REALTIME): at a fixed rate the time the record was due, so
// a source held back by the hub's flow control counts that wait as latency (no coordinated
// omission); at rate 0 the time it was generated. At a fixed rate the source wakes at most once a
// `tick_us` and emits what fell due since, as one batch: the wait for the tick counts as latency
// too, and a source that woke for every record at 5k records/s took 0.4 of a core by itself.
#include "synth_records.hpp"

#include <casehub/sdk/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

namespace {

using Steady = std::chrono::steady_clock;

std::int64_t wall_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

casehub::bench::SynthOptions options_of(const nlohmann::json& c) {
    casehub::bench::SynthOptions o;
    o.seed = static_cast<std::uint64_t>(c.at("seed").get<std::int64_t>());
    o.duplicate_share = c.at("duplicate_share").get<double>();
    o.closed_share = c.at("closed_share").get<double>();
    o.stream = static_cast<std::uint32_t>(c.at("stream").get<std::int64_t>());
    o.streams = static_cast<std::uint32_t>(c.at("streams").get<std::int64_t>());
    if (o.stream >= o.streams) throw casehub::sdk::ConfigError("stream must be below streams");
    return o;
}

class SynthSource : public casehub::sdk::Source {
public:
    SynthSource(casehub::sdk::Host& host, const nlohmann::json& c)
        : host_(host),
          gen_(c.at("reference_dir").get<std::string>(), options_of(c)),
          count_(c.at("count").get<std::int64_t>()),
          rate_(c.at("rate_per_second").get<double>()),
          batch_(c.at("batch_size").get<std::int64_t>()),
          duration_ms_(c.at("duration_ms").get<std::int64_t>()),
          tick_us_(c.at("tick_us").get<std::int64_t>()) {}

    void start(std::optional<std::string_view> cursor) override {
        next_ = cursor ? std::stoll(std::string(*cursor)) : 1;
        t0_ = Steady::now();
        wall0_us_ = wall_us();
        sent_ = 0;
    }

    void poll(std::chrono::milliseconds timeout) override {
        const auto now = Steady::now();
        const auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(now - t0_).count();
        const bool finished = (count_ > 0 && next_ > count_) || (duration_ms_ > 0 && elapsed_us >= duration_ms_ * 1000);
        if (finished) {
            std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(20)));
            return;
        }
        std::int64_t n = batch_;
        if (rate_ > 0) {
            // Records due by now since start(); sleep until the next one when none is.
            const auto due = static_cast<std::int64_t>(static_cast<double>(elapsed_us) * rate_ / 1e6) + 1;
            n = std::min(due - sent_, batch_);
            if (n <= 0) {
                // The next record's due time, rounded up to the tick.
                auto next_us = static_cast<std::int64_t>(static_cast<double>(sent_) * 1e6 / rate_);
                if (tick_us_ > 1) next_us = (next_us + tick_us_ - 1) / tick_us_ * tick_us_;
                std::this_thread::sleep_until(std::min(t0_ + std::chrono::microseconds(next_us), now + timeout));
                return;
            }
        }
        if (count_ > 0) n = std::min(n, count_ - next_ + 1);
        recs_.clear();
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t emit = rate_ > 0 ? wall0_us_ + static_cast<std::int64_t>(static_cast<double>(sent_ + i) * 1e6 / rate_)
                                                : wall_us();
            recs_.push_back(gen_.record(static_cast<std::uint64_t>(next_ + i), emit));
        }
        host_.emit(recs_, std::to_string(next_ + n));
        next_ += n;
        sent_ += n;
    }

private:
    casehub::sdk::Host& host_;
    casehub::bench::SynthGenerator gen_;
    std::int64_t count_;
    double rate_;
    std::int64_t batch_, duration_ms_, tick_us_;
    std::int64_t next_ = 1, sent_ = 0, wall0_us_ = 0;
    Steady::time_point t0_;
    std::vector<std::string> recs_;
};

constexpr const char* kSchema = R"json([
  {"name": "reference_dir", "type": "path", "required": true, "help": "the district's reference data (categories.json, grid-map.geojson, gazetteer.json, divisions.json)"},
  {"name": "count", "type": "integer", "default": 0, "min": 0, "help": "records in all, numbered 1..count (0: endless)"},
  {"name": "rate_per_second", "type": "number", "default": 0, "min": 0, "help": "records per second offered (0: as fast as the host's credit allows)"},
  {"name": "batch_size", "type": "integer", "default": 500, "min": 1, "max": 10000, "help": "most records per batch"},
  {"name": "duration_ms", "type": "integer", "default": 0, "min": 0, "help": "stop emitting this long after start (0: no limit)"},
  {"name": "tick_us", "type": "integer", "default": 1000, "min": 0, "max": 1000000, "help": "at a fixed rate, wake at most once per tick and emit what fell due (0: wake for every record)"},
  {"name": "duplicate_share", "type": "number", "default": 0.15, "min": 0, "max": 1, "help": "share of records that report an incident a few minutes earlier again, from another system"},
  {"name": "closed_share", "type": "number", "default": 0.9, "min": 0, "max": 1, "help": "share of incidents already closed"},
  {"name": "seed", "type": "integer", "default": 1, "min": 0, "help": "the simulated district's seed"},
  {"name": "stream", "type": "integer", "default": 0, "min": 0, "max": 99, "help": "this source's share of the incident timeline (with several sources)"},
  {"name": "streams", "type": "integer", "default": 1, "min": 1, "max": 100, "help": "sources sharing the timeline"}
])json";

}  // namespace

CASEHUB_PLUGIN(SynthSource, .name = "org.casehub.bench.synth", .version = "1.0.0",
               .description = "Benchmark source: realistic synthetic records of the district", .config_schema = kSchema)
