// A second, independent native addon for test/interop.test.js: it plays "another library" that
// owns device memory and a CUDA stream (its own copy of the CUDA runtime, plain Node-API), writes
// images with its own kernel, applies an optimizer step, captures CUDA graphs and reads results
// back. Built by build.js (nvcc) into build/interop_addon/interop_addon.node; not part of the package.
#include <cuda_runtime.h>
#include <node_api.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace {

// --- kernels ---------------------------------------------------------------------------------

__device__ unsigned int mix(unsigned int h) {
  h ^= h >> 16;
  h *= 0x7feb352dU;
  h ^= h >> 15;
  h *= 0x846ca68bU;
  h ^= h >> 16;
  return h;
}

// data[i] in [0.05, 0.95) from (seed, i); with `spinNs` > 0 each block first sleeps about that
// long, so that work enqueued after it on another stream would read stale data.
__global__ void fillKernel(float* data, long long n, unsigned int seed, unsigned int spinNs) {
  if (spinNs > 0 && threadIdx.x == 0) {
    for (unsigned int t = 0; t < spinNs; t += 1000) __nanosleep(1000);
  }
  __syncthreads();
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const unsigned int h = mix(unsigned(i) * 2654435761U ^ mix(seed));
    data[i] = 0.05f + 0.9f * float(h >> 8) * (1.0f / 16777216.0f);
  }
}

// x -= lr * g (an optimizer step)
__global__ void sgdKernel(float* x, const float* g, long long n, float lr) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) x[i] -= lr * g[i];
}

// --- Node-API helpers ------------------------------------------------------------------------

napi_value fail(napi_env env, const std::string& what) {
  napi_throw_error(env, "ERR_INTEROP_ADDON", what.c_str());
  return nullptr;
}

bool cudaOk(napi_env env, cudaError_t status, const char* what) {
  if (status == cudaSuccess) return true;
  cudaGetLastError();
  fail(env, std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  return false;
}

struct Args {
  size_t argc = 8;
  napi_value argv[8];
};

Args args(napi_env env, napi_callback_info info) {
  Args a;
  napi_get_cb_info(env, info, &a.argc, a.argv, nullptr, nullptr);
  return a;
}

std::uint64_t big(napi_env env, napi_value v) {
  std::uint64_t r = 0;
  bool lossless = false;
  napi_get_value_bigint_uint64(env, v, &r, &lossless);
  return r;
}

double num(napi_env env, napi_value v) {
  double r = 0;
  napi_get_value_double(env, v, &r);
  return r;
}

napi_value toBig(napi_env env, std::uint64_t v) {
  napi_value r;
  napi_create_bigint_uint64(env, v, &r);
  return r;
}

napi_value undef(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

template <typename T>
T* ptr(napi_env env, napi_value v) {
  return reinterpret_cast<T*>(static_cast<std::uintptr_t>(big(env, v)));
}

cudaStream_t stream(napi_env env, napi_value v) { return ptr<CUstream_st>(env, v); }

// The typed array's memory.
bool hostArray(napi_env env, napi_value v, void** data, size_t* bytes) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  napi_value buffer;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    fail(env, "expected a Float32Array");
    return false;
  }
  *bytes = length * 4;
  return true;
}

// --- entry points ----------------------------------------------------------------------------

// alloc(bytes) -> bigint (cudaMalloc on the current device, 0)
napi_value Alloc(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  void* p = nullptr;
  if (!cudaOk(env, cudaMalloc(&p, size_t(num(env, a.argv[0]))), "cudaMalloc")) return nullptr;
  return toBig(env, reinterpret_cast<std::uintptr_t>(p));
}

napi_value Free(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaFree(ptr<void>(env, a.argv[0])), "cudaFree")) return nullptr;
  return undef(env);
}

// allocHost(bytes) -> bigint (pinned host memory: not a device address)
napi_value AllocHost(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  void* p = nullptr;
  if (!cudaOk(env, cudaMallocHost(&p, size_t(num(env, a.argv[0]))), "cudaMallocHost")) return nullptr;
  return toBig(env, reinterpret_cast<std::uintptr_t>(p));
}

napi_value FreeHost(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaFreeHost(ptr<void>(env, a.argv[0])), "cudaFreeHost")) return nullptr;
  return undef(env);
}

napi_value CreateStream(napi_env env, napi_callback_info) {
  cudaStream_t s = nullptr;
  if (!cudaOk(env, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags")) return nullptr;
  return toBig(env, reinterpret_cast<std::uintptr_t>(s));
}

napi_value DestroyStream(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaStreamDestroy(stream(env, a.argv[0])), "cudaStreamDestroy")) return nullptr;
  return undef(env);
}

// fill(ptr, n, seed, spinNs, stream)
napi_value Fill(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  const long long n = (long long)num(env, a.argv[1]);
  fillKernel<<<64, 256, 0, stream(env, a.argv[4])>>>(ptr<float>(env, a.argv[0]), n, unsigned(num(env, a.argv[2])), unsigned(num(env, a.argv[3])));
  if (!cudaOk(env, cudaGetLastError(), "fillKernel")) return nullptr;
  return undef(env);
}

// sgd(x, g, n, lr, stream)
napi_value Sgd(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  sgdKernel<<<64, 256, 0, stream(env, a.argv[4])>>>(ptr<float>(env, a.argv[0]), ptr<const float>(env, a.argv[1]), (long long)num(env, a.argv[2]),
                                                    float(num(env, a.argv[3])));
  if (!cudaOk(env, cudaGetLastError(), "sgdKernel")) return nullptr;
  return undef(env);
}

// download(ptr, Float32Array, stream): copies on the stream, then waits for it.
napi_value Download(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  void* data = nullptr;
  size_t bytes = 0;
  if (!hostArray(env, a.argv[1], &data, &bytes)) return nullptr;
  cudaStream_t s = stream(env, a.argv[2]);
  if (!cudaOk(env, cudaMemcpyAsync(data, ptr<void>(env, a.argv[0]), bytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync")) return nullptr;
  if (!cudaOk(env, cudaStreamSynchronize(s), "cudaStreamSynchronize")) return nullptr;
  return undef(env);
}

napi_value Sync(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaStreamSynchronize(stream(env, a.argv[0])), "cudaStreamSynchronize")) return nullptr;
  return undef(env);
}

// beginCapture(stream): global capture mode (the strictest: any capture-unsafe call fails).
napi_value BeginCapture(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaStreamBeginCapture(stream(env, a.argv[0]), cudaStreamCaptureModeGlobal), "cudaStreamBeginCapture")) return nullptr;
  return undef(env);
}

// endCapture(stream) -> { exec: bigint, nodes: number } (the instantiated graph)
napi_value EndCapture(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  cudaGraph_t graph = nullptr;
  if (!cudaOk(env, cudaStreamEndCapture(stream(env, a.argv[0]), &graph), "cudaStreamEndCapture")) return nullptr;
  size_t nodes = 0;
  cudaGraphGetNodes(graph, nullptr, &nodes);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (!cudaOk(env, status, "cudaGraphInstantiate")) return nullptr;
  napi_value r, e, n;
  napi_create_object(env, &r);
  e = toBig(env, reinterpret_cast<std::uintptr_t>(exec));
  napi_create_double(env, double(nodes), &n);
  napi_set_named_property(env, r, "exec", e);
  napi_set_named_property(env, r, "nodes", n);
  return r;
}

// launchGraph(exec, stream)
napi_value LaunchGraph(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaGraphLaunch(ptr<CUgraphExec_st>(env, a.argv[0]), stream(env, a.argv[1])), "cudaGraphLaunch")) return nullptr;
  return undef(env);
}

napi_value DestroyGraph(napi_env env, napi_callback_info info) {
  Args a = args(env, info);
  if (!cudaOk(env, cudaGraphExecDestroy(ptr<CUgraphExec_st>(env, a.argv[0])), "cudaGraphExecDestroy")) return nullptr;
  return undef(env);
}

// deviceCount() -> number (0 without a usable device)
napi_value DeviceCount(napi_env env, napi_callback_info) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    n = 0;
  }
  napi_value r;
  napi_create_int32(env, n, &r);
  return r;
}

}  // namespace

NAPI_MODULE_INIT() {
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {{"alloc", Alloc},
             {"free", Free},
             {"allocHost", AllocHost},
             {"freeHost", FreeHost},
             {"createStream", CreateStream},
             {"destroyStream", DestroyStream},
             {"fill", Fill},
             {"sgd", Sgd},
             {"download", Download},
             {"sync", Sync},
             {"beginCapture", BeginCapture},
             {"endCapture", EndCapture},
             {"launchGraph", LaunchGraph},
             {"destroyGraph", DestroyGraph},
             {"deviceCount", DeviceCount}};
  for (const auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}
