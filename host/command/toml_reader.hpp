// A strict, small reader over toml++ for the command centre's files (start-up only). Every failure
// throws LoadError "file:line:col: key.path: what is wrong"; the loaders catch it and return an
// Error, so nothing escapes their Result API. Private to host/command (toml++ is a private
// dependency).
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::command {

struct LoadError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class TomlTable;

// "file:line:column" (appended piecewise: GCC 12 warns falsely on ":" + std::to_string(…)).
inline std::string position(const std::string& file, const toml::source_region& r) {
    std::string s = file;
    if (r.begin.line > 0) {
        s += ':';
        s += std::to_string(r.begin.line);
        s += ':';
        s += std::to_string(r.begin.column);
    }
    return s;
}

class TomlNode {
public:
    TomlNode(const toml::node* n, std::string path, std::shared_ptr<const std::string> file)
        : n_(n), path_(std::move(path)), file_(std::move(file)) {}

    [[noreturn]] void fail(std::string_view msg) const { throw LoadError(where(n_->source()) + path_ + ": " + std::string(msg)); }

    std::string string() const {
        if (auto v = n_->value<std::string>(); v && n_->is_string()) return *v;
        fail(std::string("expected a string, got ") + kind());
    }
    std::int64_t integer() const {
        if (n_->is_integer()) return *n_->value<std::int64_t>();
        fail(std::string("expected an integer, got ") + kind());
    }
    double number() const {
        if (n_->is_integer()) return static_cast<double>(*n_->value<std::int64_t>());
        if (n_->is_floating_point()) return *n_->value<double>();
        fail(std::string("expected a number, got ") + kind());
    }
    bool boolean() const {
        if (n_->is_boolean()) return *n_->value<bool>();
        fail(std::string("expected true or false, got ") + kind());
    }
    bool is_string() const { return n_->is_string(); }
    TomlTable table() const;
    std::vector<TomlNode> array() const {
        const auto* a = n_->as_array();
        if (!a) fail(std::string("expected an array, got ") + kind());
        std::vector<TomlNode> out;
        for (std::size_t i = 0; i < a->size(); ++i)
            out.emplace_back(a->get(i), path_ + "[" + std::to_string(i) + "]", file_);
        return out;
    }
    const std::string& path() const { return path_; }

protected:
    std::string where(const toml::source_region& r) const {
        return position(*file_, r) + ": ";
    }
    const char* kind() const {
        switch (n_->type()) {
            case toml::node_type::table: return "a table";
            case toml::node_type::array: return "an array";
            case toml::node_type::string: return "a string";
            case toml::node_type::integer: return "an integer";
            case toml::node_type::floating_point: return "a float";
            case toml::node_type::boolean: return "a boolean";
            default: return "a date or time";
        }
    }

    const toml::node* n_;
    std::string path_;
    std::shared_ptr<const std::string> file_;
};

class TomlTable : public TomlNode {
public:
    TomlTable(const toml::table* t, std::string path, std::shared_ptr<const std::string> file)
        : TomlNode(t, std::move(path), std::move(file)), t_(t) {}

    [[noreturn]] void fail(std::string_view key, std::string_view msg) const {
        const toml::node* n = t_->get(key);
        throw LoadError(where(n ? n->source() : t_->source()) + join(key) + ": " + std::string(msg));
    }
    using TomlNode::fail;

    // Unknown keys are errors: a misspelt weight must not silently fall back to a default.
    void only_keys(std::initializer_list<std::string_view> known) const {
        for (const auto& [k, v] : *t_) {
            bool found = false;
            for (auto name : known) found |= name == k.str();
            if (!found) {
                std::string all;
                for (auto name : known) all += (all.empty() ? "" : ", ") + std::string(name);
                throw LoadError(where(k.source()) + join(k.str()) + ": unknown key (known keys: " + all + ")");
            }
        }
    }
    bool has(std::string_view key) const { return t_->contains(key); }
    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        for (const auto& [k, v] : *t_) out.emplace_back(k.str());
        return out;
    }
    TomlNode node(std::string_view key) const {
        const toml::node* n = t_->get(key);
        if (!n) fail(key, "missing");
        return TomlNode(n, join(key), file_);
    }
    std::string string(std::string_view key) const { return node(key).string(); }
    std::int64_t integer(std::string_view key) const { return node(key).integer(); }
    double number(std::string_view key) const { return node(key).number(); }
    bool boolean(std::string_view key) const { return node(key).boolean(); }
    std::vector<TomlNode> array(std::string_view key) const { return node(key).array(); }
    TomlTable table(std::string_view key) const { return node(key).table(); }

private:
    std::string join(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }
    const toml::table* t_;
};

inline TomlTable TomlNode::table() const {
    const auto* t = n_->as_table();
    if (!t) fail(std::string("expected a table, got ") + kind());
    return TomlTable(t, path_, file_);
}

class TomlReader {
public:
    explicit TomlReader(const std::filesystem::path& file)
        : file_(std::make_shared<const std::string>(file.string())) {
        try {
            doc_ = toml::parse_file(file.string());
        } catch (const toml::parse_error& e) {
            throw LoadError(position(*file_, e.source()) + ": " + std::string(e.description()));
        }
    }
    TomlTable root() const { return TomlTable(&doc_, "", file_); }

private:
    std::shared_ptr<const std::string> file_;
    toml::table doc_;
};

}  // namespace casehub::command
