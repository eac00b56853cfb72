#include "http/store_reader.hpp"

#include "feed/store_read.hpp"

#include <sqlite3.h>


namespace casehub::host::http {

namespace fs = std::filesystem;

struct Reader::Impl {
    std::unique_ptr<ReadDb> db;
};

Result<std::unique_ptr<Reader>> Reader::open(const fs::path& store) {
    auto db = ReadDb::open(store, "http");
    if (!db) return db.error();
    std::unique_ptr<Reader> r(new Reader());
    r->impl_ = std::make_unique<Impl>();
    r->impl_->db = std::move(*db);
    return r;
}

Reader::~Reader() = default;

Result<std::uint64_t> Reader::head() { return impl_->db->head(); }

Result<std::vector<CaseState>> Reader::cases(const CaseQuery& q) {
    std::string where;
    std::vector<Bind> binds;
    auto add = [&](const std::string& cond) { where += (where.empty() ? " WHERE " : " AND ") + cond; };
    const std::pair<const std::optional<std::string>*, const char*> eq[] = {
        {&q.street, "street_code"},    {&q.community, "community_code"}, {&q.grid, "grid_code"},
        {&q.status, "status"},         {&q.category, "category_code"},   {&q.family, "category_family"}};
    for (const auto& [v, column] : eq)
        if (*v) {
            add(std::string(column) + " = ?");
            binds.emplace_back(**v);
        }
    const char* tcol = q.by_created ? "created_at" : "updated_at";
    if (q.from) {
        add(std::string(tcol) + " >= ?");
        binds.emplace_back(*q.from);
    }
    if (q.to) {
        add(std::string(tcol) + " < ?");
        binds.emplace_back(*q.to);
    }
    if (!q.include_merged) add("merged_into IS NULL");
    if (q.after) {
        add("(updated_at < ? OR (updated_at = ? AND case_id < ?))");
        binds.emplace_back(q.after->first);
        binds.emplace_back(q.after->first);
        binds.emplace_back(q.after->second);
    }
    // The limit is bound, not written: one cached statement per combination of filters.
    const std::string sql = std::string(kCaseColumns) + where + " ORDER BY updated_at DESC, case_id DESC LIMIT ?";
    binds.emplace_back(static_cast<std::int64_t>(q.limit) + 1);
    std::vector<CaseState> out;
    auto r = impl_->db->query(sql, binds, [&](sqlite3_stmt* s) {
        out.push_back(read_case(s));
        return true;
    });
    if (!r) return r.error();
    return out;
}

Result<std::optional<CaseDetail>> Reader::case_detail(const std::string& case_id, std::size_t max_history) {
    // One read transaction: the case, its sources, history and write-backs as of one commit.
    ReadTxn txn(*impl_->db);
    if (auto r = txn.begin(); !r) return r.error();
    std::optional<CaseDetail> out;
    auto r = impl_->db->query(std::string(kCaseColumns) + " WHERE case_id = ?", {case_id}, [&](sqlite3_stmt* s) {
        out.emplace();
        out->state = read_case(s);
        return false;
    });
    if (!r) return r.error();
    if (!out) return out;
    r = impl_->db->query("SELECT system, record_id, adapter, version, status, status_native, received_at, doc"
                     " FROM source_records WHERE case_id = ? ORDER BY system, record_id",
                     {case_id}, [&](sqlite3_stmt* s) {
                         out->sources.push_back({column_bytes(s, 0), column_bytes(s, 1), column_bytes(s, 2), column_bytes(s, 3), column_bytes(s, 4),
                                                 column_bytes(s, 5), sqlite3_column_int64(s, 6), column_bytes(s, 7)});
                         return true;
                     });
    if (!r) return r.error();
    r = impl_->db->query(event_columns(false) + " WHERE case_id = ? ORDER BY seq LIMIT ?",
                     {case_id, static_cast<std::int64_t>(max_history)}, [&](sqlite3_stmt* s) {
                         out->history.push_back(read_event(s, false));
                         return true;
                     });
    if (!r) return r.error();
    r = impl_->db->query("SELECT id, adapter, system, record_id, state, last_error, action, attempts, next_at,"
                     " created_at, updated_at FROM writebacks WHERE case_id = ? ORDER BY id",
                     {case_id}, [&](sqlite3_stmt* s) {
                         WritebackInfo w;
                         w.id = sqlite3_column_int64(s, 0);
                         w.adapter = column_bytes(s, 1);
                         w.system = column_bytes(s, 2);
                         w.record_id = column_bytes(s, 3);
                         w.state = column_bytes(s, 4);
                         w.last_error = column_bytes(s, 5);
                         w.action = column_bytes(s, 6);
                         w.attempts = sqlite3_column_int(s, 7);
                         w.next_at = sqlite3_column_int64(s, 8);
                         w.created_at = sqlite3_column_int64(s, 9);
                         w.updated_at = sqlite3_column_int64(s, 10);
                         out->writebacks.push_back(std::move(w));
                         return true;
                     });
    if (!r) return r.error();
    return out;
}

Result<std::vector<EventRow>> Reader::events(std::uint64_t after, std::uint64_t upto, const FeedFilter& f,
                                             int limit) {
    std::vector<EventRow> out;
    if (limit <= 0) return out;
    auto r = for_each_event(*impl_->db, after, upto, f, true, [&](sqlite3_stmt* s) {
        out.push_back(read_event(s, true));
        return out.size() < static_cast<std::size_t>(limit);
    });
    if (!r) return r.error();
    return out;
}

// ---- pool ---------------------------------------------------------------------------------

ReaderPool::ReaderPool(fs::path store, std::size_t keep) : store_(std::move(store)), keep_(keep) {}
ReaderPool::~ReaderPool() = default;

ReaderPool::Lease::~Lease() {
    if (r_ && pool_) pool_->give_back(std::move(r_));
}

Result<ReaderPool::Lease> ReaderPool::lease() {
    {
        std::lock_guard lock(mu_);
        if (!idle_.empty()) {
            auto r = std::move(idle_.back());
            idle_.pop_back();
            return Lease(this, std::move(r));
        }
    }
    auto r = Reader::open(store_);
    if (!r) return r.error();
    return Lease(this, std::move(*r));
}

void ReaderPool::give_back(std::unique_ptr<Reader> r) {
    std::lock_guard lock(mu_);
    if (idle_.size() < keep_) idle_.push_back(std::move(r));
}

}  // namespace casehub::host::http
