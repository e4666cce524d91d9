{
  "targets": [
    {
      "target_name": "keypoints",
      "sources": ["keypoints.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(pkg-config --cflags-only-I opencv4 | sed s/-I//g)"],
      "libraries": ["-lopencv_core", "-lopencv_imgproc", "-lopencv_imgcodecs", "-lopencv_features2d", "-lopencv_calib3d"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS"]
    }
  ]
}
