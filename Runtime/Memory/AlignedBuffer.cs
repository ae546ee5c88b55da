using System;

namespace ModelGen;

/// <summary>
/// A float buffer whose element 0 sits on a 64-byte boundary (a cache line, one Vector512): a pinned array
/// with a few floats of slack in front. Spans and tensor views over it stay ordinary managed memory.
/// </summary>
public sealed class AlignedBuffer
{
    const int AlignFloats = 16;

    /// <summary>Allocates <paramref name="length"/> zeroed floats aligned to 64 bytes.</summary>
    public unsafe AlignedBuffer(long length)
    {
        if (length < 0 || length > int.MaxValue - AlignFloats)
            throw new ArgumentOutOfRangeException(nameof(length), $"Cannot allocate {length} floats in one arena.");
        Array = GC.AllocateArray<float>((int)length + AlignFloats, pinned: true);
        fixed (float* p = Array)
        {
            long misalignment = ((long)p & 63) / sizeof(float);
            Offset = misalignment == 0 ? 0 : (int)(AlignFloats - misalignment);
        }
        Length = (int)length;
    }

    /// <summary>The backing (pinned) array.</summary>
    public float[] Array { get; }

    /// <summary>The index in <see cref="Array"/> of element 0.</summary>
    public int Offset { get; }

    /// <summary>The number of usable floats.</summary>
    public int Length { get; }

    /// <summary>The usable floats.</summary>
    public Span<float> Span => Array.AsSpan(Offset, Length);
}
