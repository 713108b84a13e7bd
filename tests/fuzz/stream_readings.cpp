// tests/fuzz/stream_readings.cpp — libFuzzer target: what the dashboard does
// with datagrams it did not ask for (parse_reading, count_sequence,
// count_jitter, detect_events).
//
// dashboard.cpp is compiled in whole (its main renamed by -Dmain=...), so the
// code fuzzed is the lesson's own. The input is cut into datagrams at each
// 0xff byte (a byte no reading holds). Nothing may crash; a reading has
// finite values; and the counts stay what they mean: every numbered reading
// is new, late or a duplicate, and a late one fills a gap that was counted.
#include "extras-udp-stream/dashboard.cpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (std::freopen("/dev/null", "w", stdout) == nullptr) __builtin_trap();  // the events' lines
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Sequence sequence;
  Jitter jitter;
  Motion motion;
  std::uint64_t numbered = 0;
  std::uint64_t fresh = 0;
  double arrived_at = 0;
  for (std::size_t start = 0; start <= input.size();) {
    const std::size_t end = std::min(input.find('\xff', start), input.size());
    const std::optional<Reading> reading = parse_reading(input.substr(start, end - start));
    start = end + 1;
    if (!reading) continue;
    if (!std::isfinite(reading->sent_at) || !std::isfinite(reading->ax) ||
        !std::isfinite(reading->ay) || !std::isfinite(reading->az))
      __builtin_trap();
    arrived_at += 0.02;
    if (reading->sequence) {
      ++numbered;
      const std::uint64_t lost_before = sequence.lost;
      if (count_sequence(sequence, *reading->sequence)) ++fresh;
      // A late reading fills a gap: there must have been one to fill.
      if (lost_before == 0 && sequence.lost == UINT64_MAX) __builtin_trap();
      if (sequence.highest < sequence.lowest) __builtin_trap();
    }
    if (!reading->sequence || fresh > 0) {
      count_jitter(jitter, reading->sent_at, arrived_at);
      detect_events(motion, *reading);
      // One datagram must not leave an average that no later reading can mend.
      if (!std::isfinite(motion.shake) || !std::isfinite(motion.gx) ||
          !std::isfinite(jitter.seconds))
        __builtin_trap();
    }
  }
  if (sequence.duplicated + fresh != numbered) __builtin_trap();
  if (sequence.reordered > fresh) __builtin_trap();
  return 0;
}
