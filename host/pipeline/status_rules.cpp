#include "pipeline/status_rules.hpp"

#include <algorithm>
#include <array>

namespace casehub::host {

namespace {
constexpr std::array<std::string_view, 10> kNames = {"new",      "registered",  "dispatched",
                                                     "accepted", "in_progress", "resolved",
                                                     "verified", "closed",      "rejected",
                                                     "cancelled"};

bool all_active_closed(const std::vector<Status>& sources) {
    bool any = false;
    for (Status s : sources) {
        if (!is_active(s)) continue;
        any = true;
        if (s != Status::closed) return false;
    }
    return any;
}
bool any_active(const std::vector<Status>& sources) {
    return std::any_of(sources.begin(), sources.end(), [](Status s) { return is_active(s); });
}
bool all_rejected(const std::vector<Status>& sources) {
    return std::all_of(sources.begin(), sources.end(), [](Status s) { return s == Status::rejected; });
}
Status more_advanced(Status a, Status b) { return rank(a) >= rank(b) ? a : b; }
}  // namespace

std::optional<Status> parse_status(std::string_view s) {
    for (std::size_t i = 0; i < kNames.size(); ++i)
        if (kNames[i] == s) return static_cast<Status>(i);
    return std::nullopt;
}
const char* to_string(Status s) { return kNames[static_cast<std::size_t>(s)].data(); }
int rank(Status s) { return is_active(s) ? static_cast<int>(s) : -1; }

const char* to_string(Move m) {
    switch (m) {
        case Move::forward: return "forward";
        case Move::reopen: return "reopen";
        case Move::withdraw: return "withdraw";
        case Move::reactivate: return "reactivate";
        case Move::regress: return "regress";
    }
    return "?";
}

Move classify(Status p, Status x) {
    if (!is_active(x)) return Move::withdraw;
    if (!is_active(p)) return Move::reactivate;
    if (rank(x) >= rank(p)) return Move::forward;
    if (p == Status::resolved || p == Status::verified || p == Status::closed) return Move::reopen;
    return Move::regress;
}

CaseStatus apply_source_change(CaseStatus c, std::optional<Status> previous, Status x,
                               const std::vector<Status>& sources) {
    const Move m = previous ? classify(*previous, x) : (is_active(x) ? Move::forward : Move::withdraw);
    switch (m) {
        case Move::forward:
            if (x != Status::closed) {
                // Rule 1: the most advanced wins; a case closed by the street stays closed.
                if (c.status == Status::closed && c.closed_by == "street") return c;
                if (!is_active(c.status)) {  // a withdrawn case that a source moves again
                    c.status = x;
                } else {
                    c.status = more_advanced(c.status, x);
                }
                if (c.status != Status::closed) c.closed_by.reset();
                return c;
            }
            // Rule 2: closes only when every active source is closed.
            if (all_active_closed(sources)) {
                c.status = Status::closed;
                c.closed_by = "sources";
            }
            return c;
        case Move::reopen:  // Rule 3
            c.status = x;
            c.closed_by.reset();
            ++c.reopen_count;
            return c;
        case Move::withdraw:  // Rule 4
            if (!any_active(sources)) {
                c.status = all_rejected(sources) ? Status::rejected : Status::cancelled;
                c.closed_by.reset();
            } else if (all_active_closed(sources)) {
                c.status = Status::closed;
                c.closed_by = "sources";
            }
            return c;
        case Move::reactivate:  // Rule 5
            if (!is_active(c.status)) {
                // A rejected or cancelled case takes x; closed that way, its sources closed it.
                c.status = x;
                if (x == Status::closed) c.closed_by = "sources";
                else c.closed_by.reset();
                return c;
            }
            // Otherwise as a forward move: rule 1, and rule 2 when x is closed (a case closes
            // only when every active source is closed).
            return apply_source_change(c, std::nullopt, x, sources);
        case Move::regress:  // Rule 6: recorded on the source, the case is unchanged
            return c;
    }
    return c;
}

CaseStatus recompute(const std::vector<Status>& sources, int reopen_count) {
    CaseStatus c;
    c.reopen_count = reopen_count;
    if (!any_active(sources)) {
        c.status = all_rejected(sources) ? Status::rejected : Status::cancelled;
        return c;
    }
    if (all_active_closed(sources)) {
        c.status = Status::closed;
        c.closed_by = "sources";
        return c;
    }
    Status best = Status::new_;
    for (Status s : sources)
        if (is_active(s) && s != Status::closed) best = more_advanced(best, s);
    c.status = best;
    return c;
}

}  // namespace casehub::host
