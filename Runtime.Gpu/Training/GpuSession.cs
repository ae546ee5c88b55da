using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

/// <summary>
/// A model's state on a GPU: its parameter and gradient arenas (the layout of the host <see cref="ParameterStore"/>,
/// planned once by the generator) and the device state of each optimizer that has stepped there. Every program of the
/// model on this device (training, inference, each batch capacity) shares them. The host store is the copy that files
/// and eager code see: <see cref="Upload"/> and <see cref="Download"/> move the values between the two.
/// </summary>
public sealed class GpuSession : DeviceSession
{
    readonly MemoryBuffer1D<float, Stride1D.Dense> _values;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _gradients;
    readonly Dictionary<Optimizer, GpuOptimizer> _optimizers = new(ReferenceEqualityComparer.Instance);

    /// <summary>Allocates the parameter and gradient arenas on <paramref name="device"/> and uploads the parameters.</summary>
    public GpuSession(GpuDevice device, ParameterStore parameters)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(parameters);
        GpuDevice = device;
        Parameters = parameters;
        _values = device.Allocate<float>(parameters.TotalLength, "the parameter arena");
        _gradients = device.Allocate<float>(parameters.TotalLength, "the gradient arena");
        Upload();
    }

    /// <summary>The device.</summary>
    public GpuDevice GpuDevice { get; }

    /// <inheritdoc/>
    public override Device Device => GpuDevice;

    /// <summary>The host parameter store this session mirrors.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>The parameter values on the device.</summary>
    public ArrayView<float> Values => _values.View.SubView(0, Parameters.TotalLength);

    /// <summary>The gradients on the device.</summary>
    public ArrayView<float> Gradients => _gradients.View.SubView(0, Parameters.TotalLength);

    /// <inheritdoc/>
    public override void Upload()
    {
        if (Parameters.TotalLength > 0) Values.CopyFromCPU(GpuDevice.Stream, Parameters.Values.ToArray());
        foreach (var o in _optimizers.Values) o.Upload();
        GpuDevice.Synchronize();
    }

    /// <inheritdoc/>
    public override void Download()
    {
        GpuDevice.Synchronize();
        if (Parameters.TotalLength > 0)
        {
            var host = new float[Parameters.TotalLength];
            Values.CopyToCPU(GpuDevice.Stream, host);
            GpuDevice.Synchronize();
            host.CopyTo(Parameters.Values);
            var grads = new float[Parameters.TotalLength];
            Gradients.CopyToCPU(GpuDevice.Stream, grads);
            GpuDevice.Synchronize();
            grads.CopyTo(Parameters.Gradients);
        }
    }

    /// <inheritdoc/>
    public override void OptimizerStep(Optimizer optimizer)
    {
        if (!_optimizers.TryGetValue(optimizer, out var state))
        {
            state = new GpuOptimizer(GpuDevice, optimizer, Parameters.TrainableLength);
            _optimizers.Add(optimizer, state);
        }
        state.Step(Values.SubView(0, Parameters.TrainableLength), Gradients.SubView(0, Parameters.TrainableLength));
    }

    /// <inheritdoc/>
    public override void DownloadOptimizer(Optimizer optimizer)
    {
        if (_optimizers.TryGetValue(optimizer, out var state)) state.Download();
    }

    /// <inheritdoc/>
    public override void UploadOptimizer(Optimizer optimizer)
    {
        if (_optimizers.TryGetValue(optimizer, out var state)) state.Upload();
    }

    /// <summary>True once the model has left this device (its programs here can no longer run).</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Throws when the session's memory is gone: a program kept after the model moved to another device.</summary>
    internal void ThrowIfDisposed()
    {
        if (IsDisposed)
            throw new ObjectDisposedException(nameof(GpuSession), $"The model has left {GpuDevice.Id} ({GpuDevice.Name}): this program's parameters there are gone; make a new program with NewProgram after To(device).");
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing || IsDisposed) return;
        IsDisposed = true;
        foreach (var o in _optimizers.Values)
        {
            o.Download();
            o.Dispose();
        }
        _optimizers.Clear();
        _values.Dispose();
        _gradients.Dispose();
    }
}
