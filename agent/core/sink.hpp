// Where finished profiles go: the IPFIX exporter, JSON lines, a test's vector.
#pragma once

#include <cstdio>
#include <vector>

#include "ipfix/record.hpp"

namespace fc {

class ProfileSink {
  public:
    virtual ~ProfileSink() = default;
    virtual void emit(const ipfix::Record& r) = 0;
};

class VectorSink final : public ProfileSink {
  public:
    void emit(const ipfix::Record& r) override { records.push_back(r); }
    std::vector<ipfix::Record> records;
};

// One JSON object per line, keys are the registry's column names.
class JsonLinesSink final : public ProfileSink {
  public:
    explicit JsonLinesSink(std::FILE* out) : out_(out) {}
    void emit(const ipfix::Record& r) override;

  private:
    std::FILE* out_;
};

// Several sinks at once (e.g. --stdout alongside --collector).
class TeeSink final : public ProfileSink {
  public:
    void add(ProfileSink* s) { sinks_.push_back(s); }
    void emit(const ipfix::Record& r) override {
        for (ProfileSink* s : sinks_) s->emit(r);
    }

  private:
    std::vector<ProfileSink*> sinks_;
};

}  // namespace fc
