// hello_adapter: a source that invents city-management reports at a steady rate.
//
// It shows the whole contract of a source plugin in one page: configuration with defaults,
// resuming from the committed cursor, emitting casehub.record/1 documents in batches with the
// cursor they reach, reporting health, and acknowledgements. Its cursor is the number of the
// next report, so a restarted hub resumes exactly where it committed.
#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/sha256.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

namespace {

struct Place {
    const char* street;
    const char* address;
    double lon, lat;
};
struct Problem {
    const char* category;
    const char* native_code;
    const char* native_name;
    const char* text;
};

constexpr std::array<Place, 6> kPlaces{{
    {"夫子庙街道", "秦淮区贡院街江南贡院东侧", 118.790900, 32.022000},
    {"瑞金路街道", "秦淮区瑞金新村8幢", 118.816333, 32.034698},
    {"中华门街道", "秦淮区中华门城堡西侧", 118.775400, 32.013900},
    {"洪武路街道", "秦淮区洪武路与建康路交叉口", 118.788700, 32.031300},
    {"月牙湖街道", "秦淮区月牙湖公园北门", 118.826100, 32.036200},
    {"光华路街道", "秦淮区光华路海福巷", 118.828800, 32.020500},
}};
constexpr std::array<Problem, 4> kProblems{{
    {"city_appearance.exposed_garbage", "0102", "暴露垃圾",
     "路边有暴露垃圾约1立方米，请尽快清运。"},
    {"city_appearance.dirty_road", "0103", "道路不洁", "人行道上油污较多，行人容易滑倒。"},
    {"city_appearance.exposed_garbage", "0102", "暴露垃圾", "绿化带里堆放装修垃圾袋若干。"},
    {"city_appearance.dirty_road", "0103", "道路不洁", "路面有大量落叶和泥沙未清扫。"},
}};

std::string rfc3339(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000) + 8 * 3600;  // Beijing time, no DST
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

class HelloAdapter : public casehub::sdk::Source {
public:
    HelloAdapter(casehub::sdk::Host& host, const nlohmann::json& config)
        : host_(host),
          system_(config.at("system").get<std::string>()),
          rate_per_minute_(config.at("rate_per_minute").get<double>()),
          batch_size_(config.at("batch_size").get<int>()),
          limit_(config.at("limit").get<std::int64_t>()) {
        if (rate_per_minute_ <= 0) throw casehub::sdk::ConfigError("rate_per_minute must be > 0");
        if (batch_size_ < 1) throw casehub::sdk::ConfigError("batch_size must be >= 1");
    }

    void start(std::optional<std::string_view> cursor) override {
        next_ = 1;
        if (cursor) {
            try {
                next_ = std::stoll(std::string(*cursor));
            } catch (const std::exception&) {
                throw casehub::sdk::Error(CASEHUB_ERR_INVALID_ARGUMENT,
                                          "cursor '" + std::string(*cursor) + "' is not a number");
            }
        }
        started_ = std::chrono::steady_clock::now();
        emitted_since_start_ = 0;
        host_.info("hello_adapter starting at report " + std::to_string(next_));
        host_.set_health(casehub::sdk::Health::ok);
    }

    void poll(std::chrono::milliseconds timeout) override {
        if (limit_ > 0 && next_ > limit_) {
            std::this_thread::sleep_for(timeout);
            return;
        }
        // How many reports are due by now at the configured rate.
        auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_);
        auto due = static_cast<std::int64_t>(elapsed.count() * rate_per_minute_ / 60.0) + 1;
        std::int64_t n = std::min<std::int64_t>(due - emitted_since_start_, batch_size_);
        if (limit_ > 0) n = std::min<std::int64_t>(n, limit_ - next_ + 1);
        if (n <= 0) {
            std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(50)));
            return;
        }
        std::vector<std::string> batch;
        batch.reserve(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) batch.push_back(make_record(next_ + i));
        host_.emit(batch, std::to_string(next_ + n));
        next_ += n;
        emitted_since_start_ += n;
    }

private:
    std::string make_record(std::int64_t no) const {
        const Place& p = kPlaces[static_cast<std::size_t>(no) % kPlaces.size()];
        const Problem& q = kProblems[static_cast<std::size_t>(no / 7) % kProblems.size()];
        const std::string now = rfc3339(host_.now_ms());
        // The "native record" this example invents; raw_sha256 is the hash of its exact bytes,
        // as a real adapter hashes what its department system sent.
        const std::string native = "HELLO" + std::to_string(no) + "|" + p.address + "|" + q.native_code + "|" + q.text;
        nlohmann::json r = {
            {"schema", "casehub.record/1"},
            {"source",
             {{"system", system_},
              {"record_id", "HELLO" + std::to_string(no)},
              {"version", "1"},
              {"received_at", now}}},
            {"kind", "event"},
            {"appeal_type", nullptr},
            {"channel", "supervisor"},
            {"category",
             {{"code", q.category},
              {"native", {{"scheme", system_ + ".category"}, {"code", q.native_code},
                          {"name", q.native_name}}}}},
            {"title", nullptr},
            {"description", std::string(p.address) + q.text},
            {"status", "new"},
            {"status_native", "01 上报"},
            {"priority", nullptr},
            {"times", {{"reported_at", now}, {"updated_at", now}}},
            {"location",
             {{"original", {{"x", p.lon}, {"y", p.lat}, {"crs", "WGS84"}}},
              {"address", p.address},
              {"grid_code", nullptr}}},
            {"reporter", {{"kind", "supervisor"}, {"worker_id", "JDY" + std::to_string(100 + no % 40)}}},
            {"confidentiality", "public"},
            {"raw_sha256", casehub::sdk::sha256_hex(native)},
        };
        return r.dump();
    }

    casehub::sdk::Host& host_;
    std::string system_;
    double rate_per_minute_;
    int batch_size_;
    std::int64_t limit_;
    std::int64_t next_ = 1;
    std::int64_t emitted_since_start_ = 0;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace

// The configuration this plugin accepts; the host validates against it and fills in defaults.
constexpr const char* kConfigSchema = R"json([
  {"name": "system", "type": "string", "default": "hello",
   "help": "source.system written on every record"},
  {"name": "rate_per_minute", "type": "number", "default": 60, "min": 0.001,
   "help": "reports invented per minute"},
  {"name": "batch_size", "type": "integer", "default": 50, "min": 1, "max": 1000,
   "help": "most reports handed to the host in one batch"},
  {"name": "limit", "type": "integer", "default": 0, "min": 0,
   "help": "stop after this many reports (0: never)"}
])json";

CASEHUB_PLUGIN(HelloAdapter,
    .name = "org.casehub.example.hello",
    .version = "1.0.0",
    .description = "Example source: invents city-management reports at a steady rate",
    .config_schema = kConfigSchema)
