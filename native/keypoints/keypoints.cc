// The keypoint check of framesift's dedupe (docs/dedupe.md, "The keypoint check"): ORB features of a
// photo, and whether two photos are a geometric copy of each other (descriptors matched with Lowe's ratio
// test, one RANSAC homography, then the normalised cross-correlation of the overlap once one is warped
// onto the other). Native OpenCV because the same steps in WebAssembly cost ~5x more (measured there).
#include <napi.h>

#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

// One photo's features: its gray image (for the photometric test) and its ORB keypoints and descriptors.
// Never changed once made, so worker threads may read them while JS holds the object.
struct Features {
  cv::Mat gray;
  std::vector<cv::Point2f> points;
  cv::Mat descriptors;
};

// What a comparison found: matches agreeing with the homography, and the overlap's correlation.
struct Match {
  int inliers = 0;
  double ncc = -1;
};

// Features as a JS object (`count`, `width`, `height`).
class Keypoints : public Napi::ObjectWrap<Keypoints> {
 public:
  static Napi::FunctionReference constructor;
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Keypoints",
                       {InstanceAccessor<&Keypoints::Count>("count"),
                        InstanceAccessor<&Keypoints::Width>("width"),
                        InstanceAccessor<&Keypoints::Height>("height")});
  }
  explicit Keypoints(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Keypoints>(info) {}

  static Napi::Object Wrap(Napi::Env env, Features&& features) {
    Napi::Object object = constructor.New({});
    Unwrap(object)->features = std::move(features);
    return object;
  }
  // The features of a `Keypoints` argument, or a TypeError.
  static const Features& Of(Napi::Env env, const Napi::Value& value) {
    if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor.Value()))
      throw Napi::TypeError::New(env, "compare(a: Keypoints, b: Keypoints, options): bad arguments");
    return Unwrap(value.As<Napi::Object>())->features;
  }

  Features features;

 private:
  Napi::Value Count(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(features.points.size()));
  }
  Napi::Value Width(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), features.gray.cols); }
  Napi::Value Height(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), features.gray.rows); }
};
Napi::FunctionReference Keypoints::constructor;

uint32_t NumberOption(const Napi::Object& options, const char* name) {
  Napi::Value v = options.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(name) + ": expected a number");
  return v.As<Napi::Number>().Uint32Value();
}

// Work for a libuv pool thread whose outcome settles a promise: subclasses compute in Execute() and
// resolve `deferred_` in OnOK(); an error thrown in Execute() rejects it.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  Napi::Promise::Deferred deferred_;
};

// The JS face of an async call: queues a `Worker` built from the arguments and returns its promise.
template <class Worker>
Napi::Value QueueAsync(const Napi::CallbackInfo& info) {
  auto* worker = new Worker(info);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// What describe works on: a view of the caller's bytes (kept alive by the caller) and its options.
struct DescribeInput {
  const uint8_t* data;
  size_t length;
  bool encoded;
  int width = 0, height = 0, channels = 0;
  int size = 0, features = 0;
  int fastThreshold = 20;
};

// describe(pixels, { encoded, width, height, channels, size, features }).
// `encoded`: pixels are a file's bytes (JPEG, PNG, WebP, TIFF, BMP, PNM), decoded to gray with their EXIF
// orientation; otherwise raw 8-bit pixels of `channels` (1 gray, 3 RGB, 4 RGBA).
DescribeInput DescribeArguments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "describe(pixels: Uint8Array, options): bad arguments");
  auto bytes = info[0].As<Napi::Uint8Array>();
  auto options = info[1].As<Napi::Object>();
  DescribeInput in{bytes.Data(), bytes.ByteLength(), options.Get("encoded").ToBoolean()};
  in.size = static_cast<int>(NumberOption(options, "size"));
  in.features = static_cast<int>(NumberOption(options, "features"));
  if (options.Has("fastThreshold")) in.fastThreshold = static_cast<int>(NumberOption(options, "fastThreshold"));
  if (!in.encoded) {
    in.width = static_cast<int>(NumberOption(options, "width"));
    in.height = static_cast<int>(NumberOption(options, "height"));
    in.channels = static_cast<int>(NumberOption(options, "channels"));
    if (in.channels != 1 && in.channels != 3 && in.channels != 4)
      throw Napi::RangeError::New(env, "channels: expected 1, 3 or 4");
    if (in.width == 0 || in.height == 0 ||
        static_cast<size_t>(in.width) * in.height * in.channels > in.length)
      throw Napi::RangeError::New(env, "pixels: fewer bytes than width × height × channels");
  }
  return in;
}

// The features of one image; false when encoded bytes do not decode. The gray image is scaled to about
// size² pixels whatever its aspect, so a thin strip keeps enough rows for ORB's 31-px border.
bool DescribeImage(const DescribeInput& in, Features& out) {
  cv::Mat gray;
  if (in.encoded) {
    cv::Mat buffer(1, static_cast<int>(in.length), CV_8UC1, const_cast<uint8_t*>(in.data));
    try {
      gray = cv::imdecode(buffer, cv::IMREAD_GRAYSCALE);
    } catch (const cv::Exception&) {
      return false;
    }
    if (gray.empty()) return false;
  } else {
    cv::Mat raw(in.height, in.width, CV_8UC(in.channels), const_cast<uint8_t*>(in.data));
    if (in.channels == 1)
      gray = raw.clone();
    else
      cv::cvtColor(raw, gray, in.channels == 3 ? cv::COLOR_RGB2GRAY : cv::COLOR_RGBA2GRAY);
  }
  const double scale = in.size / std::sqrt(static_cast<double>(gray.cols) * gray.rows);
  const int w = std::max(1, static_cast<int>(std::lround(gray.cols * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(gray.rows * scale)));
  if (w != gray.cols || h != gray.rows) {
    cv::Mat scaled;
    cv::resize(gray, scaled, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    gray = scaled;
  }
  out.gray = gray;
  std::vector<cv::KeyPoint> keypoints;
  cv::ORB::create(in.features, 1.2f, 8, 31, 0, 2, cv::ORB::HARRIS_SCORE, 31, in.fastThreshold)->detectAndCompute(gray, cv::noArray(), keypoints, out.descriptors);
  cv::KeyPoint::convert(keypoints, out.points);
  return true;
}

// describe(pixels, options) → Keypoints | null (bytes that do not decode).
Napi::Value Describe(const Napi::CallbackInfo& info) {
  Features features;
  if (!DescribeImage(DescribeArguments(info), features)) return info.Env().Null();
  return Keypoints::Wrap(info.Env(), std::move(features));
}

// describeAsync(pixels, options) → Promise<Keypoints | null>: the same on a libuv pool thread, so the
// main thread keeps receiving and dispatching frames. The caller must not change `pixels` until it settles.
class DescribeWorker : public PromiseWorker {
 public:
  explicit DescribeWorker(const Napi::CallbackInfo& info)
      : PromiseWorker(info.Env()), input_(DescribeArguments(info)),
        pixels_(Napi::Persistent(info[0].As<Napi::Object>())) {}
  void Execute() override { decoded_ = DescribeImage(input_, features_); }
  void OnOK() override {
    deferred_.Resolve(decoded_ ? Keypoints::Wrap(Env(), std::move(features_)) : Env().Null());
  }

 private:
  DescribeInput input_;
  Napi::ObjectReference pixels_;  // keeps the bytes alive while a pool thread reads them
  Features features_;
  bool decoded_ = false;
};

// Where `a` lands in `b` under `H`: the quadrilateral of a's corners, filled — when every corner stays in
// front of the camera (w > 0) the image of a rectangle is that convex quad; otherwise the full warp of a
// white image, which costs a second warpPerspective.
cv::Mat Cover(const cv::Mat& a, const cv::Size& into, const cv::Mat& H) {
  std::vector<cv::Point2f> corners = {{0, 0}, {float(a.cols), 0}, {float(a.cols), float(a.rows)}, {0, float(a.rows)}};
  const double* h = H.ptr<double>(0);
  std::vector<cv::Point> quad;
  for (const auto& c : corners) {
    const double w = h[6] * c.x + h[7] * c.y + h[8];
    if (!(w > 1e-9)) {
      cv::Mat cover;
      cv::warpPerspective(cv::Mat(a.size(), CV_8UC1, cv::Scalar(255)), cover, H, into, cv::INTER_NEAREST,
                          cv::BORDER_CONSTANT, cv::Scalar(0));
      return cover;
    }
    const double x = (h[0] * c.x + h[1] * c.y + h[2]) / w, y = (h[3] * c.x + h[4] * c.y + h[5]) / w;
    // Far outside `into` is clipped by the fill; clamp so the int conversion cannot overflow.
    quad.emplace_back(cv::saturate_cast<int>(std::max(-1e6, std::min(1e6, x))),
                      cv::saturate_cast<int>(std::max(-1e6, std::min(1e6, y))));
  }
  cv::Mat cover = cv::Mat::zeros(into, CV_8UC1);
  cv::fillConvexPoly(cover, quad, cv::Scalar(255));
  return cover;
}

// NCC of `b` with `a` warped onto it by `H`, over the pixels the warp covers (borders eroded 5 px); -1
// when that overlap is under 5 % of `b` (too small to judge).
double OverlapNcc(const cv::Mat& a, const cv::Mat& b, const cv::Mat& H) {
  cv::Mat warped;
  cv::warpPerspective(a, warped, H, b.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat cover = Cover(a, b.size(), H);
  cv::erode(cover, cover, cv::Mat::ones(5, 5, CV_8U));
  double n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (int r = 0; r < b.rows; r++) {
    const uint8_t* c = cover.ptr<uint8_t>(r);
    const uint8_t* x = warped.ptr<uint8_t>(r);
    const uint8_t* y = b.ptr<uint8_t>(r);
    for (int i = 0; i < b.cols; i++) {
      if (!c[i]) continue;
      n++;
      sa += x[i];
      sb += y[i];
      saa += double(x[i]) * x[i];
      sbb += double(y[i]) * y[i];
      sab += double(x[i]) * y[i];
    }
  }
  if (n < 0.05 * b.rows * b.cols) return -1;
  const double cov = sab - sa * sb / n, va = saa - sa * sa / n, vb = sbb - sb * sb / n;
  return va > 0 && vb > 0 ? cov / std::sqrt(va * vb) : -1;
}

// For each 32-byte ORB descriptor of `a`: its nearest in `b` by Hamming distance and the two smallest
// distances (what BFMatcher::knnMatch with k = 2 gives, same order on ties), with the popcount
// instruction where the CPU has it: 6-10x faster than BFMatcher here (docs/dedupe.md).
struct Nearest2 {
  int index, best, second;
};
template <int (*Popcount)(uint64_t)>
void MatchWith(const cv::Mat& a, const cv::Mat& b, std::vector<Nearest2>& out) {
  out.resize(a.rows);
  for (int i = 0; i < a.rows; i++) {
    const uint64_t* p = a.ptr<uint64_t>(i);
    int best = INT32_MAX, second = INT32_MAX, index = -1;
    for (int j = 0; j < b.rows; j++) {
      const uint64_t* q = b.ptr<uint64_t>(j);
      const int d = Popcount(p[0] ^ q[0]) + Popcount(p[1] ^ q[1]) + Popcount(p[2] ^ q[2]) + Popcount(p[3] ^ q[3]);
      if (d < best) {
        second = best;
        best = d;
        index = j;
      } else if (d < second) {
        second = d;
      }
    }
    out[i] = {index, best, second};
  }
}
__attribute__((target("popcnt"))) int PopcountInstruction(uint64_t x) { return __builtin_popcountll(x); }
int PopcountPortable(uint64_t x) { return __builtin_popcountll(x); }
__attribute__((target("popcnt"))) void MatchPopcnt(const cv::Mat& a, const cv::Mat& b, std::vector<Nearest2>& out) {
  MatchWith<PopcountInstruction>(a, b, out);
}
void NearestTwo(const cv::Mat& a, const cv::Mat& b, std::vector<Nearest2>& out) {
  static const bool popcnt = __builtin_cpu_supports("popcnt");
  if (popcnt)
    MatchPopcnt(a, b, out);
  else
    MatchWith<PopcountPortable>(a, b, out);
}

struct CompareOptions {
  double ratio, reprojection;
  size_t minInliers;
};
CompareOptions CompareArguments(const Napi::CallbackInfo& info) {
  if (!info[2].IsObject())
    throw Napi::TypeError::New(info.Env(), "compare(a: Keypoints, b: Keypoints, options): bad arguments");
  auto options = info[2].As<Napi::Object>();
  auto number = [&](const char* name) {
    Napi::Value v = options.Get(name);
    if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a number");
    return v.As<Napi::Number>().DoubleValue();
  };
  return {number("ratio"), number("reprojection"), std::max<size_t>(4, static_cast<size_t>(number("minInliers")))};
}

// Matches of `a`'s descriptors in `b`'s that pass the ratio test and agree with one RANSAC homography from
// a to b (0 when fewer than minInliers pass the ratio test, or when the fit mirrors or collapses the image:
// a flip is the embedding's business), and the NCC of b with a warped by it (-1 when inliers < minInliers:
// the pair fails anyway, and the warp is the dearest step).
Match CompareFeatures(const Features& a, const Features& b, const CompareOptions& o) {
  Match result;
  if (a.points.size() < o.minInliers || b.points.size() < o.minInliers) return result;
  std::vector<Nearest2> nearest;
  NearestTwo(a.descriptors, b.descriptors, nearest);
  std::vector<cv::Point2f> from, to;
  for (size_t i = 0; i < nearest.size(); i++) {
    const Nearest2& m = nearest[i];
    if (!(m.best < o.ratio * m.second)) continue;
    from.push_back(a.points[i]);
    to.push_back(b.points[m.index]);
  }
  if (from.size() < o.minInliers) return result;
  std::vector<uint8_t> mask;
  cv::Mat H = cv::findHomography(from, to, cv::RANSAC, o.reprojection, mask);
  if (H.empty()) return result;
  const double* h = H.ptr<double>(0);
  if (h[0] * h[4] - h[1] * h[3] <= 0) return result;
  for (uint8_t m : mask) result.inliers += m ? 1 : 0;
  if (static_cast<size_t>(result.inliers) >= o.minInliers) result.ncc = OverlapNcc(a.gray, b.gray, H);
  return result;
}

Napi::Object MatchObject(Napi::Env env, const Match& m) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("inliers", m.inliers);
  result.Set("ncc", m.ncc);
  return result;
}

// compare(a, b, { ratio, reprojection, minInliers }) → { inliers, ncc }.
Napi::Value Compare(const Napi::CallbackInfo& info) {
  const Features& a = Keypoints::Of(info.Env(), info[0]);
  const Features& b = Keypoints::Of(info.Env(), info[1]);
  return MatchObject(info.Env(), CompareFeatures(a, b, CompareArguments(info)));
}

// compareAsync(a, b, options) → Promise<{ inliers, ncc }> on a libuv pool thread.
class CompareWorker : public PromiseWorker {
 public:
  explicit CompareWorker(const Napi::CallbackInfo& info)
      : PromiseWorker(info.Env()), a_(Keypoints::Of(info.Env(), info[0])), b_(Keypoints::Of(info.Env(), info[1])),
        options_(CompareArguments(info)), keepA_(Napi::Persistent(info[0].As<Napi::Object>())),
        keepB_(Napi::Persistent(info[1].As<Napi::Object>())) {}
  void Execute() override { match_ = CompareFeatures(a_, b_, options_); }
  void OnOK() override { deferred_.Resolve(MatchObject(Env(), match_)); }

 private:
  const Features& a_;
  const Features& b_;
  CompareOptions options_;
  Napi::ObjectReference keepA_, keepB_;  // the features stay alive while a pool thread reads them
  Match match_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // One thread per call: the check runs beside the analysis workers, which already keep every core busy.
  cv::setNumThreads(1);
  Napi::Function keypoints = Keypoints::Define(env);
  Keypoints::constructor = Napi::Persistent(keypoints);
  exports.Set("Keypoints", keypoints);
  exports.Set("describe", Napi::Function::New(env, Describe));
  exports.Set("describeAsync", Napi::Function::New(env, QueueAsync<DescribeWorker>));
  exports.Set("compare", Napi::Function::New(env, Compare));
  exports.Set("compareAsync", Napi::Function::New(env, QueueAsync<CompareWorker>));
  exports.Set("opencvVersion", Napi::String::New(env, CV_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(keypoints, Init)
