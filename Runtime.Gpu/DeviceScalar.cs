using ILGPU;

namespace ModelGen.Gpu;

/// <summary>
/// A scalar operand of a GPU kernel whose value may live on the device: <see cref="Value"/> times element 0 of
/// <see cref="View"/> when the view is not empty, else <see cref="Value"/> alone. The generated code passes a node's
/// one-element buffer for a computed scalar (a loss gradient) and a literal for a constant, so the host never reads it.
/// </summary>
public readonly struct DeviceScalar
{
    /// <summary>The factor, or the whole value when <see cref="View"/> is empty.</summary>
    public readonly float Value;

    /// <summary>A one-element view holding the value on the device, or an empty view.</summary>
    public readonly ArrayView<float> View;

    /// <summary>A constant.</summary>
    public DeviceScalar(float value)
    {
        Value = value;
        View = default;
    }

    /// <summary>Element 0 of <paramref name="view"/>, times <paramref name="scale"/>.</summary>
    public DeviceScalar(ArrayView<float> view, float scale = 1f)
    {
        Value = scale;
        View = view;
    }

    /// <summary>A constant.</summary>
    public static implicit operator DeviceScalar(float value) => new(value);

    /// <summary>Reads the value (in a kernel).</summary>
    public float Get() => View.Length > 0 ? View[0] * Value : Value;
}
