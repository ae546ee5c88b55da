using System;

namespace ModelGen;

/// <summary>
/// A model's state on a device other than the CPU (its parameters, gradients and optimizer state there), made by
/// <c>model.To(device)</c> through the device's backend. The host <see cref="ParameterStore"/> stays the copy that
/// files and eager code read: it is refreshed at the end of <c>Fit</c>, by <c>Save</c> and by <c>To(Device.Cpu)</c>, and
/// <c>Load</c> sends what it read to the device.
/// </summary>
public abstract class DeviceSession : IDisposable
{
    /// <summary>The device.</summary>
    public abstract Device Device { get; }

    /// <summary>Copies the host parameters (and the device optimizers' host state) to the device.</summary>
    public abstract void Upload();

    /// <summary>Copies the device parameters and gradients to the host store.</summary>
    public abstract void Download();

    /// <summary>Updates the parameters on the device from the gradients there, with <paramref name="optimizer"/>'s rule.</summary>
    public abstract void OptimizerStep(Optimizer optimizer);

    /// <summary>Copies <paramref name="optimizer"/>'s device state into its host buffers (before it is saved).</summary>
    public abstract void DownloadOptimizer(Optimizer optimizer);

    /// <summary>Copies <paramref name="optimizer"/>'s host buffers to its device state (after it is loaded).</summary>
    public abstract void UploadOptimizer(Optimizer optimizer);

    /// <summary>Releases the device memory (after copying optimizer state back to the host).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the device memory.</summary>
    protected abstract void Dispose(bool disposing);
}
