#include "model_archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace faceswap::detail {
namespace {

// The largest non-tensor record (a pickle, the TorchScript source) a model may hold. The demo
// model's data.pkl is 5.6 KB for 74 tensors; a model with ten thousand tensors stays near 1 MB.
constexpr std::uint64_t kMaxMetadataRecord = 16u << 20;
constexpr std::uint64_t kMaxRecords = 1u << 20;
// A pickle's value stack and memo: bounded, so a record of many one-byte pushes costs little.
constexpr std::size_t kMaxPickleValues = 1u << 18;
constexpr std::size_t kMaxTensorDims = 64;

[[noreturn]] void refuse(const std::string& why) {
    throw ArchiveProblem(why);
}

std::uint64_t little_endian(const std::string& bytes, std::size_t at, int width) {
    if (at + static_cast<std::size_t>(width) > bytes.size()) refuse("zip structure cut short");
    std::uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i)
        value = value << 8 | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
    return value;
}
std::uint32_t u32(const std::string& b, std::size_t at) {
    return static_cast<std::uint32_t>(little_endian(b, at, 4));
}
std::uint16_t u16(const std::string& b, std::size_t at) {
    return static_cast<std::uint16_t>(little_endian(b, at, 2));
}

class File {
  public:
    explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0) refuse(std::string("cannot open it: ") + std::strerror(errno));
        const off_t end = ::lseek(fd_, 0, SEEK_END);
        if (end < 0) refuse(std::string("cannot read it: ") + std::strerror(errno));
        size_ = static_cast<std::uint64_t>(end);
    }
    ~File() { ::close(fd_); }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    std::uint64_t size() const { return size_; }

    // Exactly `length` bytes from `offset`, which the caller has checked lie inside the file.
    void read_into(std::uint64_t offset, std::uint64_t length, void* destination) const {
        if (offset > size_ || length > size_ - offset) refuse("a record lies outside the file");
        auto* bytes = static_cast<char*>(destination);
        std::uint64_t done = 0;
        while (done < length) {
            const ssize_t n =
                ::pread(fd_, bytes + done, length - done, static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) refuse("the file shrank while it was read");
            done += static_cast<std::uint64_t>(n);
        }
    }
    std::string read(std::uint64_t offset, std::uint64_t length) const {
        if (offset > size_ || length > size_ - offset) refuse("a record lies outside the file");
        std::string bytes(length, '\0');
        read_into(offset, length, bytes.data());
        return bytes;
    }

  private:
    int fd_;
    std::uint64_t size_ = 0;
};

struct Record {
    std::uint64_t data_offset = 0;
    std::uint64_t stored_size = 0;  // bytes in the file
    std::uint64_t size = 0;         // bytes once read (equal to stored_size when not compressed)
    bool compressed = false;
    std::uint32_t crc = 0;
};

struct Directory {
    std::string prefix;                     // "archive/": the one folder every record lives in
    std::map<std::string, Record> records;  // by name without the prefix
};

constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kLocalSignature = 0x04034b50;

bool is_tensor_record(const std::string& name) {
    for (const char* folder : {"data/", "constants/"}) {
        const std::string start = folder;
        if (name.size() > start.size() && name.compare(0, start.size(), start) == 0 &&
            name.find_first_not_of("0123456789", start.size()) == std::string::npos)
            return true;
    }
    return false;
}

// Reads a zip64 extended-information field for the values the central entry marked 0xFFFFFFFF.
void read_zip64_extra(const std::string& extra, std::uint64_t& size, std::uint64_t& stored_size,
                      std::uint64_t& local_offset) {
    std::size_t at = 0;
    while (at + 4 <= extra.size()) {
        const std::uint16_t id = u16(extra, at), length = u16(extra, at + 2);
        if (at + 4 + length > extra.size()) refuse("a zip extra field runs past its entry");
        if (id == 0x0001) {
            std::size_t field = at + 4;
            for (std::uint64_t* value : {&size, &stored_size, &local_offset}) {
                if (*value != 0xFFFFFFFFu) continue;
                if (field + 8 > at + 4 + length) refuse("a zip64 field is cut short");
                *value = little_endian(extra, field, 8);
                field += 8;
            }
            return;
        }
        at += 4 + length;
    }
    if (size == 0xFFFFFFFFu || stored_size == 0xFFFFFFFFu || local_offset == 0xFFFFFFFFu)
        refuse("a zip64 entry has no zip64 field");
}

Directory read_directory(const File& file) {
    const std::uint64_t file_size = file.size();
    if (file_size < 22) refuse("too short to be a model file");
    const std::uint64_t tail_length = std::min<std::uint64_t>(file_size, 22 + 0xFFFF);
    const std::uint64_t tail_offset = file_size - tail_length;
    const std::string tail = file.read(tail_offset, tail_length);

    // The end record is the last signature whose comment reaches exactly the end of the file.
    std::size_t end = std::string::npos;
    for (std::size_t at = tail.size() - 22 + 1; at-- > 0;) {
        if (u32(tail, at) == kEndSignature && at + 22 + u16(tail, at + 20) == tail.size()) {
            end = at;
            break;
        }
    }
    if (end == std::string::npos) refuse("not a zip archive (no end of central directory)");
    if (u16(tail, end + 4) != 0 || u16(tail, end + 6) != 0) refuse("a multi-part zip archive");
    std::uint64_t entries = u16(tail, end + 10);
    std::uint64_t directory_size = u32(tail, end + 12);
    std::uint64_t directory_offset = u32(tail, end + 16);
    std::uint64_t directory_limit = tail_offset + end;  // the directory ends before its end record
    if (entries == 0xFFFF || directory_size == 0xFFFFFFFFu || directory_offset == 0xFFFFFFFFu) {
        if (end < 20 || u32(tail, end - 20) != kZip64LocatorSignature)
            refuse("a zip64 archive without its locator");
        const std::uint64_t record_offset = little_endian(tail, end - 20 + 8, 8);
        if (record_offset > file_size || file_size - record_offset < 56)
            refuse("the zip64 end record lies outside the file");
        const std::string record = file.read(record_offset, 56);
        if (u32(record, 0) != kZip64EndSignature) refuse("a damaged zip64 end record");
        entries = little_endian(record, 32, 8);
        directory_size = little_endian(record, 40, 8);
        directory_offset = little_endian(record, 48, 8);
        directory_limit = record_offset;
    }
    if (entries == 0 || entries > kMaxRecords) refuse("an archive with no or too many records");
    if (directory_offset > directory_limit || directory_size > directory_limit - directory_offset)
        refuse("the zip directory lies outside the file");
    if (directory_size < entries * 46) refuse("the zip directory is shorter than its entries");
    const std::string directory = file.read(directory_offset, directory_size);

    Directory result;
    std::set<std::string> names;
    std::size_t at = 0;
    for (std::uint64_t i = 0; i < entries; ++i) {
        if (at + 46 > directory.size() || u32(directory, at) != kCentralSignature)
            refuse("a damaged zip directory entry");
        const std::uint16_t flags = u16(directory, at + 8), method = u16(directory, at + 10);
        const std::uint32_t crc = u32(directory, at + 16);
        std::uint64_t stored_size = u32(directory, at + 20), size = u32(directory, at + 24);
        const std::size_t name_length = u16(directory, at + 28);
        const std::size_t extra_length = u16(directory, at + 30);
        const std::size_t comment_length = u16(directory, at + 32);
        std::uint64_t local_offset = u32(directory, at + 42);
        if (at + 46 + name_length + extra_length + comment_length > directory.size())
            refuse("a zip directory entry runs past the directory");
        const std::string name = directory.substr(at + 46, name_length);
        read_zip64_extra(directory.substr(at + 46 + name_length, extra_length), size, stored_size,
                         local_offset);
        at += 46 + name_length + extra_length + comment_length;

        if (flags & 0x1) refuse("an encrypted zip record (" + name + ")");
        if (method != 0 && method != 8)
            refuse("zip record " + name + " uses compression method " + std::to_string(method));
        const std::size_t slash = name.find('/');
        if (name.empty() || name.find('\0') != std::string::npos || slash == 0 ||
            slash == std::string::npos || slash + 1 == name.size())
            refuse("a zip record outside an archive folder (\"" + name.substr(0, 80) + "\")");
        const std::string prefix = name.substr(0, slash + 1);
        if (result.prefix.empty()) result.prefix = prefix;
        if (prefix != result.prefix) refuse("records in two archive folders");
        if (!names.insert(name).second) refuse("zip record " + name + " appears twice");

        if (local_offset > directory_offset || directory_offset - local_offset < 30)
            refuse("zip record " + name + " starts outside the file");
        const std::string local = file.read(local_offset, 30);
        if (u32(local, 0) != kLocalSignature) refuse("a damaged zip record header (" + name + ")");
        const std::uint64_t data_offset =
            local_offset + 30 + u16(local, 26) + static_cast<std::uint64_t>(u16(local, 28));
        if (u16(local, 26) != name_length || file.read(local_offset + 30, name_length) != name)
            refuse("zip record " + name + " has another name in its header");
        if (data_offset > directory_offset || stored_size > directory_offset - data_offset)
            refuse("zip record " + name + " runs past the end of the data");

        Record record{data_offset, stored_size, size, method == 8, crc};
        const std::string inner = name.substr(slash + 1);
        if (!record.compressed && size != stored_size)
            refuse("zip record " + name + " declares two sizes");
        if (is_tensor_record(inner)) {
            if (record.compressed) refuse("tensor record " + name + " is compressed");
        } else if (size > kMaxMetadataRecord) {
            refuse("zip record " + name + " declares " + std::to_string(size) +
                   " bytes, more than a model's metadata ever needs");
        }
        result.records[inner] = record;
    }
    return result;
}

// --- pickles ------------------------------------------------------------------------------

struct Value;
using ValueRef = std::shared_ptr<Value>;
struct Value {
    enum class Kind {
        kNone,
        kBool,
        kInt,
        kFloat,
        kString,
        kTuple,
        kList,
        kDict,
        kGlobal,
        kObject,
        kStorage,
        kTensor
    };
    Kind kind = Kind::kNone;
    std::int64_t integer = 0;     // kInt, kBool
    std::string text;             // kString; kGlobal: "module name"
    std::vector<ValueRef> items;  // kTuple; kDict and kObject (its state): key, value, ...
    ArchiveTensor tensor;         // kStorage (type, sizes, record), kTensor (all of it)
};

ValueRef make(Value::Kind kind) {
    auto value = std::make_shared<Value>();
    value->kind = kind;
    return value;
}

// Bytes per element of the storages LibTorch's pickler names "torch <Type>Storage".
std::int64_t storage_element_size(const std::string& type) {
    static const std::map<std::string, std::int64_t> sizes = {
        {"DoubleStorage", 8},   {"FloatStorage", 4},        {"HalfStorage", 2},
        {"BFloat16Storage", 2}, {"LongStorage", 8},         {"IntStorage", 4},
        {"ShortStorage", 2},    {"CharStorage", 1},         {"ByteStorage", 1},
        {"BoolStorage", 1},     {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16}};
    const auto found = sizes.find(type);
    return found == sizes.end() ? 0 : found->second;
}

class PickleReader {
  public:
    // Reads data.pkl, whose tensors keep their bytes in data/ (kStorageFolder).
    PickleReader(const std::string& name, const std::string& bytes, const Directory& directory)
        : name_(name), bytes_(bytes), directory_(directory) {}

    // The value the pickle holds.
    ValueRef run() {
        while (true) {
            if (at_ >= bytes_.size()) fail("ends without STOP");
            opcode_at_ = at_;
            const auto opcode = static_cast<unsigned char>(bytes_[at_++]);
            if (opcode == '.') {
                if (stack_.size() != 1 || !marks_.empty()) fail("STOP with a stack left over");
                if (at_ != bytes_.size()) fail("bytes after STOP");
                return stack_.back();
            }
            step(opcode);
            if (stack_.size() > kMaxPickleValues || memo_.size() > kMaxPickleValues ||
                container_items_ > kMaxPickleValues)
                fail("holds more values than any model needs");
        }
    }

  private:
    [[noreturn]] void fail(const std::string& why) const {
        refuse("pickle " + name_ + ": " + why + " (byte " + std::to_string(opcode_at_) + ")");
    }

    std::uint64_t argument(int width) {
        if (bytes_.size() - at_ < static_cast<std::size_t>(width)) fail("an opcode is cut short");
        const std::uint64_t value = little_endian(bytes_, at_, width);
        at_ += static_cast<std::size_t>(width);
        return value;
    }
    std::string take(std::uint64_t length) {
        if (length > bytes_.size() - at_) fail("a string runs past the record");
        std::string text = bytes_.substr(at_, length);
        at_ += length;
        return text;
    }
    std::string line() {
        const std::size_t newline = bytes_.find('\n', at_);
        if (newline == std::string::npos || newline - at_ > 256) fail("a damaged GLOBAL");
        std::string text = bytes_.substr(at_, newline - at_);
        at_ = newline + 1;
        return text;
    }

    void push(ValueRef value) { stack_.push_back(std::move(value)); }
    ValueRef pop() {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pops an empty stack");
        ValueRef value = std::move(stack_.back());
        stack_.pop_back();
        return value;
    }
    ValueRef& top() {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("reads an empty stack");
        return stack_.back();
    }
    std::vector<ValueRef> pop_to_mark() {
        if (marks_.empty()) fail("no MARK to pop to");
        const std::size_t mark = marks_.back();
        marks_.pop_back();
        std::vector<ValueRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark),
                                    stack_.end());
        stack_.resize(mark);
        return items;
    }
    ValueRef tuple(std::vector<ValueRef> items) {
        auto value = make(Value::Kind::kTuple);
        value->items = std::move(items);
        return value;
    }
    ValueRef integer(std::int64_t number) {
        auto value = make(Value::Kind::kInt);
        value->integer = number;
        return value;
    }

    void put(std::uint64_t index) {
        // Writers number memo entries 0, 1, 2...; LibTorch's reader sizes its memo by the index,
        // so a large one would allocate for it.
        if (index > memo_.size()) fail("memo index " + std::to_string(index) + " out of order");
        if (index == memo_.size())
            memo_.push_back(top());
        else
            memo_[index] = top();
    }
    void get(std::uint64_t index) {
        if (index >= memo_.size()) fail("memo index " + std::to_string(index) + " never stored");
        push(memo_[index]);
    }

    void global() {
        const std::string module = line(), name = line();
        const bool allowed = (module == "__torch__" || module.rfind("__torch__.", 0) == 0) ||
                             (module == "torch._utils" && name == "_rebuild_tensor_v2") ||
                             (module == "torch" && storage_element_size(name) > 0) ||
                             (module == "collections" && name == "OrderedDict") ||
                             (module == "torch.jit._pickle" &&
                              (name == "build_intlist" || name == "build_tensorlist" ||
                               name == "build_doublelist" || name == "build_boollist" ||
                               name == "build_genericlist" || name == "restore_type_tag"));
        if (!allowed) fail("refers to '" + module + "." + name + "', which no model holds");
        auto value = make(Value::Kind::kGlobal);
        value->text = module + " " + name;
        push(value);
    }

    static bool is_class(const Value& callable) {
        return callable.kind == Value::Kind::kGlobal && callable.text.rfind("__torch__", 0) == 0;
    }

    // ("storage", torch.<Type>Storage, key, device, element count): the record data/<key>.
    void persistent_id() {
        const ValueRef id = pop();
        const auto& items = id->items;
        if (id->kind != Value::Kind::kTuple || items.size() != 5 ||
            items[0]->kind != Value::Kind::kString || items[0]->text != "storage" ||
            items[1]->kind != Value::Kind::kGlobal || items[2]->kind != Value::Kind::kString ||
            items[3]->kind != Value::Kind::kString || items[4]->kind != Value::Kind::kInt)
            fail("a damaged storage reference");
        const std::string type = items[1]->text.substr(items[1]->text.find(' ') + 1);
        const std::int64_t element_size = storage_element_size(type);
        if (element_size == 0 || items[1]->text.rfind("torch ", 0) != 0)
            fail("a storage of unknown type");
        const std::string record_name = kStorageFolder + items[2]->text;
        const auto record = directory_.records.find(record_name);
        if (record == directory_.records.end() || !is_tensor_record(record_name))
            fail("a tensor whose record " + record_name + " is missing");
        const std::int64_t count = items[4]->integer;
        if (count < 0 || static_cast<unsigned __int128>(count) * element_size !=
                             static_cast<unsigned __int128>(record->second.size))
            fail("a storage of " + std::to_string(count) + " elements in a record of " +
                 std::to_string(record->second.size) + " bytes");
        auto storage = make(Value::Kind::kStorage);
        storage->tensor.type = type.substr(0, type.size() - std::strlen("Storage"));
        storage->tensor.element_size = element_size;
        storage->tensor.storage_elements = count;
        storage->tensor.record = directory_.prefix + record_name;
        push(storage);
    }

    static bool int_tuple(const Value& value) {
        if (value.kind != Value::Kind::kTuple || value.items.size() > kMaxTensorDims) return false;
        for (const auto& item : value.items)
            if (item->kind != Value::Kind::kInt || item->integer < 0) return false;
        return true;
    }

    // _rebuild_tensor_v2(storage, offset, sizes, strides, requires_grad, hooks[, metadata]).
    ValueRef rebuild_tensor(const Value& arguments) {
        const auto& items = arguments.items;
        if (items.size() < 6 || items.size() > 7 || items[0]->kind != Value::Kind::kStorage ||
            items[1]->kind != Value::Kind::kInt || items[1]->integer < 0 || !int_tuple(*items[2]) ||
            !int_tuple(*items[3]) || items[2]->items.size() != items[3]->items.size() ||
            items[4]->kind != Value::Kind::kBool)
            fail("a damaged tensor");
        // The last element a tensor reaches must lie inside its storage.
        unsigned __int128 last = static_cast<std::uint64_t>(items[1]->integer);
        bool empty = false;
        for (std::size_t d = 0; d < items[2]->items.size(); ++d) {
            const auto size = static_cast<std::uint64_t>(items[2]->items[d]->integer);
            const auto stride = static_cast<std::uint64_t>(items[3]->items[d]->integer);
            if (size == 0)
                empty = true;
            else
                last += static_cast<unsigned __int128>(size - 1) * stride;
            if (last >> 64) fail("a tensor larger than any storage");
        }
        if (!empty && last >= static_cast<std::uint64_t>(items[0]->tensor.storage_elements))
            fail("a tensor that reaches past its storage");
        auto tensor = make(Value::Kind::kTensor);
        tensor->tensor = items[0]->tensor;
        tensor->tensor.offset = items[1]->integer;
        for (std::size_t d = 0; d < items[2]->items.size(); ++d) {
            tensor->tensor.sizes.push_back(items[2]->items[d]->integer);
            tensor->tensor.strides.push_back(items[3]->items[d]->integer);
        }
        return tensor;
    }

    void reduce() {
        const ValueRef arguments = pop();
        const ValueRef callable = pop();
        if (arguments->kind != Value::Kind::kTuple || callable->kind != Value::Kind::kGlobal)
            fail("a damaged REDUCE");
        const std::string& name = callable->text;
        if (name == "torch._utils _rebuild_tensor_v2") {
            push(rebuild_tensor(*arguments));
        } else if (name == "collections OrderedDict") {
            if (!arguments->items.empty()) fail("a damaged OrderedDict");
            push(make(Value::Kind::kDict));
        } else if (name == "torch.jit._pickle restore_type_tag") {
            if (arguments->items.empty()) fail("a damaged type tag");
            push(arguments->items[0]);
        } else if (name.rfind("torch.jit._pickle build_", 0) == 0) {
            push(make(Value::Kind::kList));
        } else {
            fail("calls '" + name + "'");
        }
    }

    void add_to_dict(const std::vector<ValueRef>& pairs) {
        ValueRef& dict = top();
        if (dict->kind != Value::Kind::kDict) fail("SETITEMS on something not a dict");
        container_items_ += pairs.size();
        dict->items.insert(dict->items.end(), pairs.begin(), pairs.end());
    }

    void step(unsigned char opcode) {
        using Kind = Value::Kind;
        switch (opcode) {
            case 0x80:  // PROTO
                if (opcode_at_ != 0 || argument(1) > 5) fail("a damaged PROTO");
                break;
            case 'c':
                global();
                break;
            case 'q':
                put(argument(1));
                break;
            case 'r':
                put(argument(4));
                break;
            case 'h':
                get(argument(1));
                break;
            case 'j':
                get(argument(4));
                break;
            case '(':
                marks_.push_back(stack_.size());
                if (marks_.size() > kMaxPickleValues) fail("too many MARKs");
                break;
            case ')':
                push(tuple({}));
                break;
            case 't':
                push(tuple(pop_to_mark()));
                break;
            case 0x85:
            case 0x86:
            case 0x87: {
                std::vector<ValueRef> items(static_cast<std::size_t>(opcode - 0x84));
                for (auto item = items.rbegin(); item != items.rend(); ++item) *item = pop();
                push(tuple(std::move(items)));
                break;
            }
            case ']':
                push(make(Kind::kList));
                break;
            case '}':
                push(make(Kind::kDict));
                break;
            case 'a':
                pop();
                if (top()->kind != Kind::kList) fail("APPEND to something not a list");
                break;
            case 'e':
                pop_to_mark();
                if (top()->kind != Kind::kList) fail("APPENDS to something not a list");
                break;
            case 's': {
                const ValueRef value = pop();
                const ValueRef key = pop();
                add_to_dict({key, value});
                break;
            }
            case 'u': {
                const std::vector<ValueRef> pairs = pop_to_mark();
                if (pairs.size() % 2 != 0) fail("SETITEMS with an odd count");
                add_to_dict(pairs);
                break;
            }
            case 'K':
                push(integer(static_cast<std::int64_t>(argument(1))));
                break;
            case 'M':
                push(integer(static_cast<std::int64_t>(argument(2))));
                break;
            case 'J':
                push(integer(static_cast<std::int32_t>(static_cast<std::uint32_t>(argument(4)))));
                break;
            case 0x8a: {  // LONG1: n bytes, little-endian two's complement
                const auto width = static_cast<int>(argument(1));
                if (width > 8) fail("an integer wider than 64 bits");
                std::uint64_t bits = width == 0 ? 0 : argument(width);
                if (width > 0 && width < 8 && (bits >> (8 * width - 1)) & 1)
                    bits |= ~std::uint64_t{0} << (8 * width);  // sign-extend
                push(integer(static_cast<std::int64_t>(bits)));
                break;
            }
            case 'G':
                argument(8);
                push(make(Kind::kFloat));
                break;
            case 'X': {
                auto value = make(Kind::kString);
                value->text = take(argument(4));
                push(value);
                break;
            }
            case 0x8c: {
                auto value = make(Kind::kString);
                value->text = take(argument(1));
                push(value);
                break;
            }
            case 'N':
                push(make(Kind::kNone));
                break;
            case 0x88:
            case 0x89: {
                auto value = make(Kind::kBool);
                value->integer = opcode == 0x88;
                push(value);
                break;
            }
            case 'Q':
                persistent_id();
                break;
            case 'R':
                reduce();
                break;
            case 0x81: {  // NEWOBJ
                const ValueRef arguments = pop();
                const ValueRef callable = pop();
                if (arguments->kind != Kind::kTuple || !is_class(*callable))
                    fail("a damaged NEWOBJ");
                push(make(Kind::kObject));
                break;
            }
            case 'b': {  // BUILD: the object's state, a dict of its attributes
                const ValueRef state = pop();
                if (top()->kind != Kind::kObject) fail("BUILD on something not an object");
                if (state->kind == Kind::kDict) top()->items = state->items;
                break;
            }
            default: {
                static const char hex[] = "0123456789abcdef";
                fail(std::string("opcode 0x") + hex[opcode >> 4] + hex[opcode & 15] +
                     ", which no model holds");
            }
        }
    }

    const std::string& name_;
    const std::string& bytes_;
    const Directory& directory_;
    static constexpr const char* kStorageFolder = "data/";
    std::size_t at_ = 0;
    std::size_t opcode_at_ = 0;
    std::vector<ValueRef> stack_;
    std::vector<std::size_t> marks_;
    std::vector<ValueRef> memo_;
    std::size_t container_items_ = 0;  // in all dicts together
};

[[maybe_unused]] std::uint32_t crc32(const unsigned char* bytes, std::size_t length) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> entries{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t value = i;
            for (int bit = 0; bit < 8; ++bit) value = (value >> 1) ^ (0xEDB88320u & -(value & 1));
            entries[i] = value;
        }
        return entries;
    }();
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < length; ++i) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

// The fuzz build skips the checksums: a fuzzer cannot forge CRC-32s, and everything behind
// them (the values, the tensor reads) should be fuzzed too.
bool crc_matches(const void* bytes, std::size_t length, std::uint32_t expected) {
#ifdef FACESWAP_FUZZING
    (void)bytes, (void)length, (void)expected;
    return true;
#else
    return crc32(static_cast<const unsigned char*>(bytes), length) == expected;
#endif
}

}  // namespace

ModuleArchive ModuleArchive::open(const std::string& path) {
    const File file(path);
    const Directory directory = read_directory(file);
    const auto pickle = directory.records.find("data.pkl");
    if (pickle == directory.records.end()) refuse("no data.pkl: not a LibTorch module");
    if (pickle->second.compressed) refuse("its data.pkl is compressed; writers store it");
    const std::string bytes = file.read(pickle->second.data_offset, pickle->second.stored_size);
    // Structure first (safe on any bytes, and its errors say more), then the checksum.
    const ValueRef module = PickleReader(directory.prefix + "data.pkl", bytes, directory).run();
    if (!crc_matches(bytes.data(), bytes.size(), pickle->second.crc))
        refuse("its data.pkl is damaged (CRC-32 mismatch)");
    if (module->kind != Value::Kind::kObject) refuse("data.pkl holds no module");

    ModuleArchive archive;
    archive.path_ = path;
    for (const auto& [name, record] : directory.records)
        if (is_tensor_record(name))
            archive.tensor_records_[directory.prefix + name] = {record.data_offset, record.size,
                                                                record.crc};
    for (std::size_t i = 0; i + 1 < module->items.size(); i += 2) {
        const Value& key = *module->items[i];
        const Value& value = *module->items[i + 1];
        if (key.kind != Value::Kind::kString) refuse("a module attribute without a name");
        ArchiveValue entry;
        if (value.kind == Value::Kind::kString) {
            entry.kind = ArchiveValue::Kind::kString;
            entry.text = value.text;
        } else if (value.kind == Value::Kind::kInt) {
            entry.kind = ArchiveValue::Kind::kInteger;
            entry.integer = value.integer;
        } else if (value.kind == Value::Kind::kTensor) {
            entry.kind = ArchiveValue::Kind::kTensor;
            entry.tensor = value.tensor;
        }
        if (!archive.values_.emplace(key.text, std::move(entry)).second)
            refuse("module attribute '" + key.text.substr(0, 80) + "' appears twice");
    }
    return archive;
}

void ModuleArchive::read_storage(const ArchiveTensor& tensor, void* destination) const {
    const auto record = tensor_records_.find(tensor.record);
    if (record == tensor_records_.end()) refuse("tensor record " + tensor.record + " is missing");
    const std::uint64_t length = record->second.size;
    if (static_cast<unsigned __int128>(tensor.storage_elements) * tensor.element_size != length)
        refuse("tensor record " + tensor.record + " has another length");
    const File file(path_);
    file.read_into(record->second.data_offset, length, destination);
    if (!crc_matches(destination, length, record->second.crc))
        refuse("tensor record " + tensor.record + " is damaged (CRC-32 mismatch)");
}

}  // namespace faceswap::detail
