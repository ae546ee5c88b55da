using System;

namespace ModelGen;

/// <summary>
/// A lookup table: token ids (…) stored as floats — for a model, the <c>[Shape(T)]</c> input of (B, T) ids, each an
/// integer in [0, count) — become rows (…, dim) of <see cref="Weight"/> (count, dim). The ids take no gradient; the
/// weight's gradient is the scatter-add of the output gradient. Initialized Xavier-normal (PyTorch uses N(0, 1);
/// the runtime's initializers have no unit normal).
/// </summary>
public sealed class Embedding : IModule
{
    /// <summary>A table of <paramref name="count"/> rows of <paramref name="dim"/> values, initialized from <see cref="Linear.DefaultSeed"/>.</summary>
    public Embedding(int count, int dim) : this(count, dim, Linear.DefaultSeed) { }

    /// <summary>A table of <paramref name="count"/> rows of <paramref name="dim"/> values drawn from <paramref name="seed"/>.</summary>
    public Embedding(int count, int dim, int seed)
    {
        SequenceLayer.Positive(count, nameof(count), "Embedding");
        SequenceLayer.Positive(dim, nameof(dim), "Embedding");
        Count = count;
        Dim = dim;
        Weight = SequenceLayer.Parameter("weight", Init.XavierNormal, new Random(seed), count, dim);
    }

    /// <summary>The number of rows (the vocabulary).</summary>
    public int Count { get; }

    /// <summary>The width of a row.</summary>
    public int Dim { get; }

    /// <summary>The table, shape (count, dim).</summary>
    public Tensor Weight { get; private set; }

    /// <summary>The rows of the ids: (…) → (…, dim).</summary>
    public Tensor Forward(Tensor ids) => Ops.Embedding(ids, Weight);

    /// <summary>Points <see cref="Weight"/> at <c>{prefix}.weight</c> of <paramref name="store"/>.</summary>
    public void Bind(ParameterStore store, string prefix) => Weight = SequenceLayer.Bind("Embedding", store, prefix, "weight", Weight);
}
