// An in-process host for plugin unit tests and for `casehub plugin check`.
//
// It drives a plugin through its C ABI exactly in the order the real runner does (create,
// start, poll..., acked, stop, destroy) and records everything the plugin hands over. It never
// blocks: credit is unlimited and, with auto_ack (the default), each batch is acked on the
// plugin thread right after the poll that emitted it, as the runner does once it is committed.
//
//   casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
//   host.create({{"rate", 10}});
//   host.start();
//   host.run_for(std::chrono::seconds(1));
//   REQUIRE(host.records().size() > 0);
#pragma once

#include <casehub/plugin_abi.h>
#include <casehub/sdk/plugin.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace casehub::sdk {

class FakeHost {
public:
    struct Batch {
        std::uint64_t id = 0;
        std::vector<std::string> records;
        std::string cursor;
    };
    struct DeadLetter {
        std::string reason, detail, native, cursor;
    };
    struct LogLine {
        int32_t level = 0;
        std::string message;
    };

    explicit FakeHost(const casehub_plugin_descriptor* d) : desc_(d) {
        api_.struct_size = sizeof(api_);
        api_.abi_major = CASEHUB_ABI_MAJOR;
        api_.abi_minor = CASEHUB_ABI_MINOR;
        api_.emit = &FakeHost::c_emit;
        api_.dead_letter = &FakeHost::c_dead_letter;
        api_.log = &FakeHost::c_log;
        api_.set_health = &FakeHost::c_set_health;
        api_.now_ms = &FakeHost::c_now_ms;
        api_.stop_requested = &FakeHost::c_stop_requested;
        if (desc_ == nullptr) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "FakeHost: null descriptor");
    }
    FakeHost(const FakeHost&) = delete;
    FakeHost& operator=(const FakeHost&) = delete;
    ~FakeHost() {
        if (instance_ != nullptr) {
            if (started_) {
                char buf[256];
                casehub_error err{buf, sizeof buf};
                desc_->vtable->stop(instance_, &err);
            }
            desc_->vtable->destroy(instance_);
        }
    }

    bool auto_ack = true;
    // When set, now_ms() returns this instead of the wall clock.
    std::atomic<std::int64_t> fixed_now_ms{0};

    // Throws sdk::Error with the plugin's message when create fails.
    void create(const nlohmann::json& config = nlohmann::json::object()) {
        const std::string text = config.dump();
        check(desc_->vtable->create(&api_, self(), {text.data(), text.size()}, &instance_, err()),
              "create");
        if (instance_ == nullptr)
            throw Error(CASEHUB_ERR_INTERNAL, "create returned CASEHUB_OK but no instance");
    }
    void start(std::string_view cursor = {}) {
        check(desc_->vtable->start(instance_, {cursor.data(), cursor.size()}, err()), "start");
        started_ = true;
    }
    // One poll; returns the status (the message is in last_error()). Delivers acks after it.
    casehub_status poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(100)) {
        casehub_status st =
            desc_->vtable->poll(instance_, static_cast<uint32_t>(timeout.count()), err());
        errbuf_[sizeof errbuf_ - 1] = '\0';
        if (auto_ack) ack_all();
        return st;
    }
    // Polls until `d` has passed or a poll fails with anything but UNAVAILABLE; returns the
    // last status.
    casehub_status run_for(std::chrono::milliseconds d,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(100)) {
        auto end = std::chrono::steady_clock::now() + d;
        casehub_status st = CASEHUB_OK;
        while (std::chrono::steady_clock::now() < end) {
            st = poll(timeout);
            if (st != CASEHUB_OK && st != CASEHUB_ERR_UNAVAILABLE) break;
        }
        return st;
    }
    // Acks every batch emitted so far that was not acked yet.
    void ack_all() {
        std::uint64_t upto;
        {
            std::lock_guard lk(mu_);
            upto = next_id_ - 1;
        }
        if (upto > acked_ && desc_->vtable->acked != nullptr) {
            acked_ = upto;
            desc_->vtable->acked(instance_, upto);
        }
    }
    casehub_status write_back(const nlohmann::json& action) {
        if (desc_->vtable->write_back == nullptr) return CASEHUB_ERR_UNSUPPORTED;
        std::string t = action.dump();
        return desc_->vtable->write_back(instance_, {t.data(), t.size()}, err());
    }
    void stop() {
        stop_requested_ = true;
        check(desc_->vtable->stop(instance_, err()), "stop");
        started_ = false;
    }
    void request_stop() { stop_requested_ = true; }

    // Snapshots (copies) of what the plugin handed over.
    std::vector<Batch> batches() const {
        std::lock_guard lk(mu_);
        return batches_;
    }
    std::vector<std::string> records() const {
        std::lock_guard lk(mu_);
        std::vector<std::string> out;
        for (const auto& b : batches_) out.insert(out.end(), b.records.begin(), b.records.end());
        return out;
    }
    std::vector<DeadLetter> dead_letters() const {
        std::lock_guard lk(mu_);
        return dead_letters_;
    }
    std::vector<LogLine> logs() const {
        std::lock_guard lk(mu_);
        return logs_;
    }
    std::string last_cursor() const {
        std::lock_guard lk(mu_);
        return batches_.empty() ? std::string() : batches_.back().cursor;
    }
    int32_t health() const { return health_.load(); }
    std::string last_error() const { return std::string(errbuf_, strnlen(errbuf_, sizeof errbuf_ - 1)); }
    const casehub_plugin_descriptor* descriptor() const { return desc_; }

private:
    casehub_host* self() { return reinterpret_cast<casehub_host*>(this); }
    static FakeHost* me(casehub_host* h) { return reinterpret_cast<FakeHost*>(h); }
    casehub_error* err() {
        errbuf_[0] = '\0';
        err_ = {errbuf_, sizeof errbuf_};
        return &err_;
    }
    void check(casehub_status st, const char* what) {
        errbuf_[sizeof errbuf_ - 1] = '\0';  // a plugin may fill the buffer without a NUL
        if (st < CASEHUB_OK || st > CASEHUB_ERR_INTERNAL)
            throw Error(CASEHUB_ERR_INTERNAL, std::string(what) + " returned unknown status " +
                                                  std::to_string(st) + " (garbage)");
        if (st != CASEHUB_OK)
            throw Error(st, std::string(what) + " failed (status " + std::to_string(st) +
                                "): " + errbuf_);
    }

    static casehub_status c_emit(casehub_host* h, const casehub_batch* b, uint64_t* id,
                                 casehub_error* e) noexcept {
        FakeHost* self = me(h);
        if (self->stop_requested_) return CASEHUB_ERR_STOPPING;
        if (b == nullptr || b->struct_size < CASEHUB_BATCH_SIZE_1_0) {
            write_error(e, "emit: batch is null or smaller than casehub_batch 1.0");
            return CASEHUB_ERR_INVALID_ARGUMENT;
        }
        if (b->record_count > CASEHUB_MAX_BATCH_RECORDS) {
            write_error(e, "emit: more than CASEHUB_MAX_BATCH_RECORDS records");
            return CASEHUB_ERR_LIMIT;
        }
        Batch batch;
        for (size_t i = 0; i < b->record_count; ++i) {
            if (b->records[i].len > CASEHUB_MAX_RECORD_BYTES) {
                write_error(e, "emit: record " + std::to_string(i) + " is over 1 MiB");
                return CASEHUB_ERR_LIMIT;
            }
            batch.records.emplace_back(b->records[i].data, b->records[i].len);
        }
        batch.cursor.assign(b->cursor.data == nullptr ? "" : b->cursor.data, b->cursor.len);
        std::lock_guard lk(self->mu_);
        batch.id = self->next_id_++;
        if (id != nullptr) *id = batch.id;
        self->batches_.push_back(std::move(batch));
        return CASEHUB_OK;
    }
    static casehub_status c_dead_letter(casehub_host* h, const casehub_dead_letter* l,
                                        casehub_error* e) noexcept {
        if (l == nullptr || l->struct_size < CASEHUB_DEAD_LETTER_SIZE_1_0 || l->reason == nullptr) {
            write_error(e, "dead_letter: letter is null, too small, or has no reason");
            return CASEHUB_ERR_INVALID_ARGUMENT;
        }
        FakeHost* self = me(h);
        std::lock_guard lk(self->mu_);
        self->dead_letters_.push_back(
            {l->reason, l->detail ? l->detail : "",
             std::string(l->native.data ? l->native.data : "", l->native.len),
             std::string(l->cursor.data ? l->cursor.data : "", l->cursor.len)});
        return CASEHUB_OK;
    }
    static void c_log(casehub_host* h, int32_t level, const char* msg, size_t len) noexcept {
        FakeHost* self = me(h);
        std::lock_guard lk(self->mu_);
        self->logs_.push_back({level, std::string(msg ? msg : "", msg ? len : 0)});
    }
    static void c_set_health(casehub_host* h, int32_t health, const char*) noexcept {
        me(h)->health_ = health;
    }
    static int64_t c_now_ms(casehub_host* h) noexcept {
        std::int64_t f = me(h)->fixed_now_ms.load();
        if (f != 0) return f;
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    static int32_t c_stop_requested(casehub_host* h) noexcept {
        return me(h)->stop_requested_ ? 1 : 0;
    }

    const casehub_plugin_descriptor* desc_;
    casehub_host_api api_{};
    casehub_instance* instance_ = nullptr;
    bool started_ = false;
    std::atomic<bool> stop_requested_{false};
    std::atomic<int32_t> health_{CASEHUB_HEALTH_OK};
    mutable std::mutex mu_;
    std::vector<Batch> batches_;
    std::vector<DeadLetter> dead_letters_;
    std::vector<LogLine> logs_;
    std::uint64_t next_id_ = 1;
    std::uint64_t acked_ = 0;
    char errbuf_[1024] = {0};
    casehub_error err_{};
};

}  // namespace casehub::sdk
