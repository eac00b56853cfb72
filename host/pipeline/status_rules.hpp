// Case status lifecycle, exactly as case-model.md §4: how one source's status change is
// classified (§4.1) and how the case status follows from its sources and actions (§4.2).
// Pure functions; the pipeline keeps the state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::host {

enum class Status { new_, registered, dispatched, accepted, in_progress, resolved, verified, closed, rejected, cancelled };

std::optional<Status> parse_status(std::string_view s);
const char* to_string(Status s);
// 0..7 along new → closed; -1 for rejected and cancelled.
int rank(Status s);
inline bool is_active(Status s) { return s != Status::rejected && s != Status::cancelled; }

enum class Move { forward, reopen, withdraw, reactivate, regress };
const char* to_string(Move m);
// The change of ONE source's status from p to x (§4.1).
Move classify(Status p, Status x);

struct CaseStatus {
    Status status = Status::new_;
    std::optional<std::string> closed_by;  // "sources" | "street"
    int reopen_count = 0;
};

// A source's status change applied to the case (§4.2 rules 1–6). `sources` holds every
// source's status AFTER the change (the changed one included); `previous` is the changed
// source's status before it (nullopt for a record the case has not seen: treated as forward).
CaseStatus apply_source_change(CaseStatus current, std::optional<Status> previous, Status next,
                               const std::vector<Status>& sources);

// Rule 8: recompute from scratch (merge, split, and a case's first record).
CaseStatus recompute(const std::vector<Status>& sources, int reopen_count);

}  // namespace casehub::host
