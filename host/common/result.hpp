// Value-or-error for everything inside the host that input or vendors can cause.
//
// The host's error model (docs/error-model.md): status codes across the plugin ABI;
// Result<T> inside the host for anything a record, a config file, a plugin or a peer can get
// wrong; exceptions only during start-up (and caught in main); assert() only for our own
// invariants.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace casehub {

struct Error {
    std::string message;  // one line: names what failed and where
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}

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
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

private:
    std::variant<T, Error> v_;
};

// Result without a value.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), failed_(true) {}
    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const {
        assert(failed_);
        return err_;
    }

private:
    Error err_;
    bool failed_ = false;
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }

}  // namespace casehub
