using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace ModelGen.Gpu;

/// <summary>
/// A GPU (or ILGPU's CPU accelerator) as a <see cref="Device"/>: one ILGPU accelerator, created on first use, with one
/// stream on which every kernel of a model runs in order, and a cache of the kernels loaded (compiled) for it.
/// </summary>
public sealed class GpuDevice : Device, IDisposable
{
    readonly ILGPU.Runtime.Device _device;
    readonly Context _context;
    readonly object _gate = new();
    readonly ConcurrentDictionary<Type, object> _kernels = new();
    Accelerator? _accelerator;
    long _allocations;

    internal GpuDevice(Context context, ILGPU.Runtime.Device device, DeviceKind kind, int index)
        : base(kind, index, device.Name, kind == DeviceKind.GpuEmulator ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : device.MemorySize)
    {
        _context = context;
        _device = device;
    }

    /// <summary>The ILGPU accelerator (created on first use).</summary>
    public Accelerator Accelerator
    {
        get
        {
            if (_accelerator != null) return _accelerator;
            lock (_gate)
            {
                if (_accelerator == null)
                {
                    try
                    {
                        _accelerator = _device.CreateAccelerator(_context);
                    }
                    catch (Exception e)
                    {
                        throw new DeviceException($"{Id} {Name}: could not create the accelerator: {e.Message}", e);
                    }
                }
                return _accelerator;
            }
        }
    }

    /// <summary>The stream every kernel of this device runs on, in order.</summary>
    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>
    /// The kernels of one family, loaded (compiled for this device) on first use and kept: <typeparamref name="T"/> is a
    /// class whose constructor loads them from the accelerator. Errors name the device and the family.
    /// </summary>
    public T Kernels<T>(Func<Accelerator, T> load) where T : class =>
        (T)_kernels.GetOrAdd(typeof(T), _ =>
        {
            try
            {
                return load(Accelerator);
            }
            catch (Exception e) when (e is not DeviceException)
            {
                throw new DeviceException($"{Id} {Name}: the kernels {typeof(T).Name} failed to compile: {e.Message}", e);
            }
        });

    /// <summary>
    /// The number of device buffers <see cref="Allocate{T}"/> has made on this device so far (successful or not): tests
    /// read it to check that a steady-state step allocates no device memory.
    /// </summary>
    public long Allocations => Interlocked.Read(ref _allocations);

    /// <summary>
    /// Allocates <paramref name="length"/> elements of device memory for <paramref name="what"/>; out of memory is a
    /// <see cref="DeviceException"/> that names the device, the bytes asked for and the bytes free.
    /// </summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length, string what) where T : unmanaged
    {
        long bytes = length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        Interlocked.Increment(ref _allocations);
        try
        {
            var buffer = Accelerator.Allocate1D<T>(Math.Max(length, 1));
            buffer.MemSetToZero(Stream);
            return buffer;
        }
        catch (Exception e) when (e is not DeviceException)
        {
            throw new DeviceException($"{Id} {Name}: out of device memory allocating {what}: {bytes:N0} bytes asked for, {FreeBytes():N0} free ({e.Message})", e);
        }
    }

    /// <summary>The device memory free now (CUDA), or the device's memory size where the driver does not say.</summary>
    public long FreeBytes()
    {
        if (_accelerator is CudaAccelerator cuda)
        {
            try
            {
                cuda.Bind();
                if (CudaAPI.CurrentAPI.GetMemoryInfo(out long free, out _) == CudaError.CUDA_SUCCESS) return free;
            }
            catch (Exception)
            {
                // fall through to the size
            }
        }
        return MemoryBytes;
    }

    /// <summary>Waits until every kernel queued on <see cref="Stream"/> has finished; a failed kernel surfaces here, naming the device.</summary>
    public void Synchronize()
    {
        try
        {
            Stream.Synchronize();
        }
        catch (Exception e) when (e is not DeviceException)
        {
            throw new DeviceException($"{Id} {Name}: a kernel failed: {e.Message}", e);
        }
    }

    /// <summary>Releases the accelerator and every kernel loaded for it.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _kernels.Clear();
            _accelerator?.Dispose();
            _accelerator = null;
        }
    }
}

/// <summary>
/// The GPU backend: finds CUDA and OpenCL devices through ILGPU and registers them with <see cref="Device"/>. The
/// generated code of a model compiled against this assembly calls <see cref="Register"/> when the program starts
/// (only where the process can generate code at run time: never under NativeAOT).
/// </summary>
public sealed class GpuBackend : IDeviceBackend
{
    static readonly object Gate = new();
    static GpuBackend? _instance;
    readonly Context _context;
    readonly List<Device> _devices = new();
    GpuDevice? _emulator;

    GpuBackend()
    {
        _context = Context.Create(builder => builder.Default().EnableAlgorithms().Math(MathMode.Default));
        int cuda = 0, opencl = 0;
        foreach (var d in _context.GetDevices<CudaDevice>()) _devices.Add(new GpuDevice(_context, d, DeviceKind.Cuda, cuda++));
        foreach (var d in _context.GetDevices<CLDevice>()) _devices.Add(new GpuDevice(_context, d, DeviceKind.OpenCL, opencl++));
    }

    /// <summary>The backend of this process (created on first use).</summary>
    public static GpuBackend Instance
    {
        get
        {
            lock (Gate) return _instance ??= new GpuBackend();
        }
    }

    /// <summary>Registers the backend with <see cref="Device"/> when the process can generate code at run time.</summary>
    public static void Register()
    {
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported) return;
        Device.RegisterBackend(new LazyBackend());
    }

    /// <inheritdoc/>
    public IReadOnlyList<Device> Devices => _devices;

    /// <inheritdoc/>
    public Device Emulator()
    {
        lock (Gate)
        {
            if (_emulator == null)
            {
                var cpu = _context.GetDevices<CPUDevice>();
                if (cpu.Count == 0) throw new DeviceException("ILGPU's CPU accelerator is not available.");
                _emulator = new GpuDevice(_context, cpu[0], DeviceKind.GpuEmulator, 0);
            }
            return _emulator;
        }
    }

    /// <inheritdoc/>
    public DeviceSession CreateSession(Device device, ParameterStore parameters) =>
        device is GpuDevice gpu ? new GpuSession(gpu, parameters) : throw new ArgumentException($"{device} is not a GPU of the GPU backend.", nameof(device));

    /// <summary>Defers ILGPU's device scan until a device is asked for.</summary>
    sealed class LazyBackend : IDeviceBackend
    {
        public IReadOnlyList<Device> Devices => Instance.Devices;
        public Device Emulator() => Instance.Emulator();
        public DeviceSession CreateSession(Device device, ParameterStore parameters) => Instance.CreateSession(device, parameters);
    }
}
