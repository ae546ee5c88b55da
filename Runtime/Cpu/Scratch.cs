using System;
using System.Buffers;

namespace ModelGen.Cpu;

/// <summary>
/// A scratch span whose length comes from a caller (a rank, a kernel's taps): the caller's small stack buffer when the
/// length fits it, else an array rented from <see cref="ArrayPool{T}.Shared"/> and returned by <see cref="Dispose"/>, so
/// no caller-given size can overflow the stack. Use: <c>using var s = new Scratch&lt;int&gt;(stackalloc int[Scratch.StackInts], n);</c>,
/// or, around a hot loop, a plain <see cref="Dispose"/> at the end (a finally keeps the loop's locals off registers; after an
/// error a rented array is then left to the GC, which loses nothing).
/// </summary>
internal ref struct Scratch<T> where T : unmanaged
{
    T[]? _rented;

    /// <summary>The scratch, exactly the requested length (not cleared when rented).</summary>
    public readonly Span<T> Span;

    public Scratch(Span<T> stack, int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "A scratch length must be non-negative.");
        if (length <= stack.Length)
        {
            _rented = null;
            Span = stack.Slice(0, length);
        }
        else
        {
            _rented = ArrayPool<T>.Shared.Rent(length);
            Span = _rented.AsSpan(0, length);
        }
    }

    public void Dispose()
    {
        if (_rented != null) ArrayPool<T>.Shared.Return(_rented);
        _rented = null;
    }
}

/// <summary>The stack buffer sizes for <see cref="Scratch{T}"/>.</summary>
internal static class Scratch
{
    /// <summary>Ints a stack buffer holds (1 KiB): ranks and kernel taps up to this stay on the stack.</summary>
    public const int StackInts = 256;
}
