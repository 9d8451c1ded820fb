{
  "targets": [
    {
      "target_name": "voxface_kernels",
      "sources": [
        "src/binding.cpp",
        "src/binding_render.cpp",
        "src/pool.cpp",
        "src/grid_sample.cpp",
        "src/dense.cpp",
        "src/composite.cpp",
        "src/blend.cpp",
        "src/march.cpp",
        "src/optim.cpp",
        "src/render_rays.cpp",
        "src/bake_motion.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O3", "-fexceptions"],
      "cflags_cc": [
        "-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden",
        "-ffp-contract=off", "-fno-math-errno", "-Wno-psabi",
        "<!@(sh ./simd-flags.sh)"
      ],
      "ldflags": ["-pthread"]
    }
  ]
}
