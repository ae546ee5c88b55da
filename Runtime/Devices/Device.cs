using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using ModelGen.Cpu;

namespace ModelGen;

/// <summary>What kind of processor a <see cref="Device"/> is.</summary>
public enum DeviceKind
{
    /// <summary>This machine's CPU: the generated AVX-512/AVX2/scalar code.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,
    /// <summary>A GPU (or other device) through OpenCL.</summary>
    OpenCL,
    /// <summary>ILGPU's CPU accelerator: the GPU kernels run by CPU threads (tests; slow).</summary>
    GpuEmulator,
}

/// <summary>
/// A processor that models run on: <see cref="Cpu"/>, or a GPU when the GPU backend (the assembly
/// <c>ModelGen.Runtime.Gpu</c>) is present and the process can generate code at run time. Move a model with
/// <c>model.To(device)</c>; <c>Fit</c>, <c>Evaluate</c>, <c>Predict</c>, <c>Save</c> and <c>Load</c> then run there.
/// </summary>
public abstract class Device
{
    static readonly object Gate = new();
    static IDeviceBackend? _gpuBackend;

    /// <summary>Called by device implementations.</summary>
    protected Device(DeviceKind kind, int index, string name, long memoryBytes)
    {
        Kind = kind;
        Index = index;
        Name = name;
        MemoryBytes = memoryBytes;
    }

    /// <summary>The kind of processor.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The index among devices of the same kind (0 for the CPU).</summary>
    public int Index { get; }

    /// <summary>The device's name ("NVIDIA H200", "AMD EPYC ...").</summary>
    public string Name { get; }

    /// <summary>The device's memory in bytes (the machine's memory for the CPU).</summary>
    public long MemoryBytes { get; }

    /// <summary>True for every device other than the CPU.</summary>
    public bool IsGpu => Kind != DeviceKind.Cpu;

    /// <summary>The short name used on command lines and in messages: <c>cpu</c>, <c>cuda:0</c>, <c>opencl:1</c>, <c>gpu-emulator:0</c>.</summary>
    public string Id => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.Cuda => "cuda:" + Index,
        DeviceKind.OpenCL => "opencl:" + Index,
        _ => "gpu-emulator:" + Index,
    };

    /// <summary>For example <c>cuda:0 NVIDIA H200 (141 GB)</c> or <c>cpu (AVX-512, 2 cores)</c>.</summary>
    public override string ToString() => Kind == DeviceKind.Cpu
        ? $"cpu ({CpuDevice.SimdName(CpuFeatures.Active)}, {Environment.ProcessorCount} cores)"
        : $"{Id} {Name} ({MemoryBytes / 1_000_000_000.0:0.#} GB)";

    /// <summary>This machine's CPU.</summary>
    public static Device Cpu { get; } = new CpuDevice();

    /// <summary>
    /// Registers the GPU backend. <c>ModelGen.Runtime.Gpu</c> calls it (the generated code of a model compiled with a
    /// reference to that assembly does so when the program starts); users do not need to.
    /// </summary>
    public static void RegisterBackend(IDeviceBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        lock (Gate) _gpuBackend ??= backend;
    }

    /// <summary>Why there is no GPU backend in this process, or null when there is one.</summary>
    public static string? GpuUnavailableReason
    {
        get
        {
            if (!RuntimeFeature.IsDynamicCodeSupported)
                return "this process cannot generate code at run time (NativeAOT), and the GPU backend (ILGPU) compiles its kernels at run time; run the app under the JIT (dotnet run) to use a GPU";
            lock (Gate)
                if (_gpuBackend == null)
                    return "the GPU backend is not loaded: reference the ModelGen.Runtime.Gpu package (or project) from the project that declares the model";
            return null;
        }
    }

    /// <summary>The registered GPU backend; throws naming the reason when there is none.</summary>
    internal static IDeviceBackend RequireBackend() =>
        GpuUnavailableReason is { } why ? throw new DeviceException($"No GPU: {why}.") : Backend!;

    static IDeviceBackend? Backend
    {
        get { lock (Gate) return RuntimeFeature.IsDynamicCodeSupported ? _gpuBackend : null; }
    }

    /// <summary>Every device this process can use: the CPU first, then each GPU (CUDA, then OpenCL).</summary>
    public static IReadOnlyList<Device> All
    {
        get
        {
            var all = new List<Device> { Cpu };
            if (Backend is { } backend) all.AddRange(backend.Devices);
            return all;
        }
    }

    /// <summary>The GPUs this process can use (CUDA first, then OpenCL); empty without the GPU backend.</summary>
    public static IReadOnlyList<Device> Gpus => Backend?.Devices ?? (IReadOnlyList<Device>)Array.Empty<Device>();

    /// <summary>GPU number <paramref name="index"/> of <see cref="Gpus"/>; throws naming the reason when there is none.</summary>
    public static Device Gpu(int index = 0)
    {
        if (GpuUnavailableReason is { } why) throw new DeviceException($"No GPU: {why}.");
        var gpus = Gpus;
        if (gpus.Count == 0) throw new DeviceException("No GPU: the GPU backend found no CUDA or OpenCL device on this machine.");
        if (index < 0 || index >= gpus.Count)
            throw new DeviceException($"No GPU number {index}: this machine has {gpus.Count} ({string.Join(", ", Names(gpus))}).");
        return gpus[index];
    }

    /// <summary>
    /// The best device: the first GPU when there is one, else the CPU. <paramref name="reason"/> says in one line why
    /// the choice fell where it did ("cuda:0 NVIDIA H200 (141 GB)", or why there is no GPU).
    /// </summary>
    public static Device Best(out string reason)
    {
        if (GpuUnavailableReason is { } why)
        {
            reason = "running on the CPU: " + why;
            return Cpu;
        }
        var gpus = Gpus;
        if (gpus.Count == 0)
        {
            reason = "running on the CPU: the GPU backend found no CUDA or OpenCL device";
            return Cpu;
        }
        reason = "running on " + gpus[0];
        return gpus[0];
    }

    /// <summary>The best device: see <see cref="Best(out string)"/>.</summary>
    public static Device Best() => Best(out _);

    /// <summary>
    /// Parses a command-line choice: <c>cpu</c>, <c>gpu</c> (the first GPU), <c>best</c>, an index (<c>0</c> = the first
    /// GPU), or an id such as <c>cuda:0</c>, <c>opencl:1</c> or <c>gpu-emulator:0</c>.
    /// </summary>
    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "best") return Best();
        if (t == "gpu") return Gpu(0);
        if (int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)) return Gpu(index);
        if (t is "gpu-emulator" or "gpu-emulator:0")
        {
            if (GpuUnavailableReason is { } why) throw new DeviceException($"No GPU emulator: {why}.");
            return Backend!.Emulator();
        }
        if (GpuUnavailableReason is { } reason) throw new DeviceException($"No device '{text}': {reason}.");
        foreach (var d in Gpus)
            if (d.Id == t) return d;
        throw new DeviceException($"No device '{text}'. Devices: {string.Join(", ", Names(All))}; or gpu-emulator:0.");
    }

    static IEnumerable<string> Names(IReadOnlyList<Device> devices)
    {
        foreach (var d in devices) yield return d.ToString();
    }
}

/// <summary>The CPU as a device.</summary>
internal sealed class CpuDevice : Device
{
    public CpuDevice() : base(DeviceKind.Cpu, 0, "cpu", GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) { }

    internal static string SimdName(SimdLevel level) => level switch
    {
        SimdLevel.Avx512 => "AVX-512",
        SimdLevel.Avx2 => "AVX2",
        _ => "scalar",
    };
}

/// <summary>What the GPU assembly gives the runtime: its devices, and programs for them.</summary>
public interface IDeviceBackend
{
    /// <summary>The GPUs found (CUDA first, then OpenCL).</summary>
    IReadOnlyList<Device> Devices { get; }

    /// <summary>ILGPU's CPU accelerator as a device: the GPU kernels run by CPU threads (for tests).</summary>
    Device Emulator();

    /// <summary>Puts a model's parameters on <paramref name="device"/> (one of this backend's devices).</summary>
    DeviceSession CreateSession(Device device, ParameterStore parameters);
}

/// <summary>A device could not be found or used; the message names the device and what failed.</summary>
public sealed class DeviceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DeviceException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public DeviceException(string message, Exception inner) : base(message, inner) { }
}
