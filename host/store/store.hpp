// The hub's durable store (SQLite, WAL).
//
// Records, dead letters and the adapter cursor they reach commit in ONE transaction, so a
// restart of anything resumes from the last commit: nothing lost, nothing applied twice. A
// commit takes many batches at once (group commit); callers ack only after it returns.
#pragma once

#include "common/result.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::host {

struct DeadLetterIn {
    std::string reason, detail, cursor;
    std::string_view native;  // masked native bytes
};

struct BatchIn {
    std::string adapter;
    std::uint64_t batch = 0;
    std::optional<std::string> cursor;  // nullopt: the cursor does not move
    std::vector<std::string_view> records;
    std::vector<DeadLetterIn> letters;
};

class Store {
public:
    enum class Sync { full, normal };
    static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path, Sync sync);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // The last committed cursor of an adapter; nullopt when it never committed one.
    Result<std::optional<std::string>> cursor(std::string_view adapter);
    // Commits every batch in one transaction (BEGIN IMMEDIATE ... COMMIT).
    Result<void> commit(const std::vector<BatchIn>& batches);
    // Lets the WAL shrink while readers come and go; cheap when there is nothing to do.
    void checkpoint();

    struct Counts {
        std::int64_t records = 0, dead_letters = 0;
    };
    Result<Counts> counts(std::string_view adapter);
    const std::filesystem::path& path() const { return path_; }

private:
    Store() = default;
    Result<void> exec(const char* sql);
    std::string last_error() const;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* insert_record_ = nullptr;
    sqlite3_stmt* insert_letter_ = nullptr;
    sqlite3_stmt* upsert_cursor_ = nullptr;
    sqlite3_stmt* select_cursor_ = nullptr;
    std::filesystem::path path_;
};

}  // namespace casehub::host
