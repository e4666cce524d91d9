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

#include <cmath>
#include <vector>

namespace {

// One photo's features: its gray image (for the photometric test) and its ORB keypoints and descriptors.
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

  cv::Mat gray;
  std::vector<cv::Point2f> points;
  cv::Mat descriptors;

 private:
  Napi::Value Count(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(points.size()));
  }
  Napi::Value Width(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gray.cols); }
  Napi::Value Height(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gray.rows); }
};
Napi::FunctionReference Keypoints::constructor;

uint32_t NumberOption(const Napi::Object& options, const char* name) {
  Napi::Value v = options.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(name) + ": expected a number");
  return v.As<Napi::Number>().Uint32Value();
}

// describe(pixels, { encoded, width, height, channels, size, features }) → Keypoints | null.
// `encoded`: pixels are a file's bytes (JPEG, PNG, WebP, TIFF, BMP, PNM), decoded to gray with their EXIF
// orientation; otherwise raw 8-bit pixels of `channels` (1 gray, 3 RGB, 4 RGBA). The gray image is scaled
// to about size² pixels whatever its aspect, so a thin strip keeps enough rows for ORB's 31-px border.
// null when the bytes do not decode.
Napi::Value Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "describe(pixels: Uint8Array, options): bad arguments");
  auto bytes = info[0].As<Napi::Uint8Array>();
  auto options = info[1].As<Napi::Object>();
  const bool encoded = options.Get("encoded").ToBoolean();
  const uint32_t size = NumberOption(options, "size");
  const uint32_t features = NumberOption(options, "features");
  cv::Mat gray;
  if (encoded) {
    cv::Mat buffer(1, static_cast<int>(bytes.ByteLength()), CV_8UC1, bytes.Data());
    try {
      gray = cv::imdecode(buffer, cv::IMREAD_GRAYSCALE);
    } catch (const cv::Exception&) {
      gray.release();
    }
    if (gray.empty()) return env.Null();
  } else {
    const uint32_t width = NumberOption(options, "width");
    const uint32_t height = NumberOption(options, "height");
    const uint32_t channels = NumberOption(options, "channels");
    if (channels != 1 && channels != 3 && channels != 4)
      throw Napi::RangeError::New(env, "channels: expected 1, 3 or 4");
    if (static_cast<size_t>(width) * height * channels > bytes.ByteLength() || width == 0 || height == 0)
      throw Napi::RangeError::New(env, "pixels: fewer bytes than width × height × channels");
    cv::Mat raw(static_cast<int>(height), static_cast<int>(width), CV_8UC(channels), bytes.Data());
    if (channels == 1)
      gray = raw.clone();
    else
      cv::cvtColor(raw, gray, channels == 3 ? cv::COLOR_RGB2GRAY : cv::COLOR_RGBA2GRAY);
  }
  const double scale = size / std::sqrt(static_cast<double>(gray.cols) * gray.rows);
  const int w = std::max(1, static_cast<int>(std::lround(gray.cols * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(gray.rows * scale)));
  if (w != gray.cols || h != gray.rows) {
    cv::Mat scaled;
    cv::resize(gray, scaled, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    gray = scaled;
  }
  Napi::Object object = Keypoints::constructor.New({});
  Keypoints* kp = Keypoints::Unwrap(object);
  kp->gray = gray;
  std::vector<cv::KeyPoint> keypoints;
  cv::ORB::create(static_cast<int>(features))->detectAndCompute(gray, cv::noArray(), keypoints, kp->descriptors);
  cv::KeyPoint::convert(keypoints, kp->points);
  return object;
}

// NCC of `b` with `a` warped onto it by `H`, over the pixels the warp covers (borders eroded 5 px); -1
// when that overlap is under 5 % of `b` (too small to judge).
double OverlapNcc(const cv::Mat& a, const cv::Mat& b, const cv::Mat& H) {
  cv::Mat warped, cover;
  cv::warpPerspective(a, warped, H, b.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::warpPerspective(cv::Mat(a.size(), CV_8UC1, cv::Scalar(255)), cover, H, b.size(), cv::INTER_NEAREST,
                      cv::BORDER_CONSTANT, cv::Scalar(0));
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

// compare(a, b, { ratio, reprojection, minInliers }) → { inliers, ncc }: matches of `a`'s descriptors in
// `b`'s that pass the ratio test and agree with one RANSAC homography from a to b (0 when fewer than
// minInliers matches pass the ratio test, or when the fit mirrors or collapses the image: a flip is the
// embedding's business), and the NCC of b with a warped by it (-1 when inliers < minInliers: the pair
// fails anyway, and the warp is the dearest step).
Napi::Value Compare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsObject() || !info[2].IsObject() ||
      !info[0].As<Napi::Object>().InstanceOf(Keypoints::constructor.Value()) ||
      !info[1].As<Napi::Object>().InstanceOf(Keypoints::constructor.Value()))
    throw Napi::TypeError::New(env, "compare(a: Keypoints, b: Keypoints, options): bad arguments");
  const Keypoints* a = Keypoints::Unwrap(info[0].As<Napi::Object>());
  const Keypoints* b = Keypoints::Unwrap(info[1].As<Napi::Object>());
  auto options = info[2].As<Napi::Object>();
  const double ratio = options.Get("ratio").As<Napi::Number>().DoubleValue();
  const double reprojection = options.Get("reprojection").As<Napi::Number>().DoubleValue();
  const size_t minInliers = std::max<uint32_t>(4, NumberOption(options, "minInliers"));
  Napi::Object result = Napi::Object::New(env);
  result.Set("inliers", 0);
  result.Set("ncc", -1);
  if (a->points.size() < minInliers || b->points.size() < minInliers) return result;
  std::vector<std::vector<cv::DMatch>> knn;
  cv::BFMatcher(cv::NORM_HAMMING).knnMatch(a->descriptors, b->descriptors, knn, 2);
  std::vector<cv::Point2f> from, to;
  for (const auto& m : knn) {
    if (m.size() < 2 || !(m[0].distance < ratio * m[1].distance)) continue;
    from.push_back(a->points[m[0].queryIdx]);
    to.push_back(b->points[m[0].trainIdx]);
  }
  if (from.size() < minInliers) return result;
  std::vector<uint8_t> mask;
  cv::Mat H = cv::findHomography(from, to, cv::RANSAC, reprojection, mask);
  if (H.empty()) return result;
  const double* h = H.ptr<double>(0);
  if (h[0] * h[4] - h[1] * h[3] <= 0) return result;
  int inliers = 0;
  for (uint8_t m : mask) inliers += m ? 1 : 0;
  result.Set("inliers", inliers);
  if (static_cast<size_t>(inliers) >= minInliers) result.Set("ncc", OverlapNcc(a->gray, b->gray, H));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // One thread: the check runs beside the analysis workers, which already keep every core busy.
  cv::setNumThreads(1);
  Napi::Function keypoints = Keypoints::Define(env);
  Keypoints::constructor = Napi::Persistent(keypoints);
  exports.Set("Keypoints", keypoints);
  exports.Set("describe", Napi::Function::New(env, Describe));
  exports.Set("compare", Napi::Function::New(env, Compare));
  exports.Set("opencvVersion", Napi::String::New(env, CV_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(keypoints, Init)
