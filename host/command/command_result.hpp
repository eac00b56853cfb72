// Value-or-error for the command centre's operations. Like casehub::Result (common/result.hpp),
// but the error carries a machine-readable code and the field at fault, because a street
// operator's refused step goes back to a form: "reporters[0].rank: rank_too_low: …".
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace casehub::command {

// Error codes (stable strings: the HTTP API and the CLI pass them on).
namespace errc {
inline constexpr const char* invalid_argument = "invalid_argument";  // malformed or impossible input
inline constexpr const char* not_found = "not_found";                // unknown unit, tier, kind, rank…
inline constexpr const char* conflict = "conflict";                  // the step was already done
inline constexpr const char* rank_too_low = "rank_too_low";          // a report below the tier's rule
inline constexpr const char* out_of_order = "out_of_order";          // a step before the one it needs
inline constexpr const char* closed = "closed";                      // the whistle is resolved/closed
}  // namespace errc

struct CommandError {
    std::string code;     // one of errc
    std::string message;  // one line for a person: what is wrong and what would be accepted
    std::string field;    // the input field at fault ("unit", "reporters[1].rank", "at"), or ""
};

inline CommandError command_error(std::string code, std::string message, std::string field = {}) {
    return CommandError{std::move(code), std::move(message), std::move(field)};
}

template <class T>
class [[nodiscard]] CommandResult {
public:
    CommandResult(T value) : v_(std::move(value)) {}
    CommandResult(CommandError e) : v_(std::move(e)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const CommandError& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

private:
    std::variant<T, CommandError> v_;
};

}  // namespace casehub::command
