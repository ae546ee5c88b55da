using System;

namespace ModelGen;

// Eager sequence ops: sequences are (batch, time, features) tensors with a static time length.
public static partial class Ops
{
    /// <summary>
    /// GELU(x) = x·Φ(x) = x/2·(1 + erf(x/√2)), elementwise: the exact (erf) form, PyTorch's default; not the tanh
    /// approximation. Compiled code evaluates erf with Abramowitz &amp; Stegun 7.1.26 (|error| ≤ 1.5e-7).
    /// </summary>
    public static Tensor Gelu(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Gelu<float>(s, d));
        return Tensor.Record(y, "Gelu", new[] { x }, (dy, dx) => Reference.GeluBackward<float>(x.Data, dy, dx[0]));
    }

    /// <summary>
    /// Rows of <paramref name="weight"/> (count, dim) picked by <paramref name="ids"/>: token ids stored as floats (each an
    /// integer in [0, count)); ids of shape (…) give (…, dim). The ids take no gradient.
    /// </summary>
    public static Tensor Embedding(Tensor ids, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"Embedding: the weight must be (count, dim), got shape {Tensor.FormatShape(weight.Shape)}.", nameof(weight));
        int count = weight.Dim(0), dim = weight.Dim(1);
        var shape = new int[ids.Rank + 1];
        ids.Shape.CopyTo(shape);
        shape[^1] = dim;
        var y = new Tensor(shape);
        Reference.Embedding<float>(ids.Data, weight.Data, y.Data, count, dim);
        return Tensor.Record(y, "Embedding", new[] { ids, weight },
            (dy, dx) => { if (dx[1] != null) Reference.EmbeddingBackward<float>(ids.Data, dy, dx[1], count, dim); });
    }

    /// <summary>Layer normalization over the last dimension: (x − mean)/sqrt(var + eps)·weight + bias (biased variance, as PyTorch).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor weight, Tensor bias, double epsilon = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        int features = x.Rank == 0 ? 0 : x.Dim(-1);
        if (x.Rank == 0 || weight.Rank != 1 || bias.Rank != 1 || weight.Length != features || bias.Length != features)
            throw new ArgumentException(
                $"LayerNorm: input {Tensor.FormatShape(x.Shape)}, weight {Tensor.FormatShape(weight.Shape)} and bias {Tensor.FormatShape(bias.Shape)} do not fit: weight and bias need the input's last dimension.");
        int rows = x.Length / Math.Max(features, 1);
        var y = new Tensor(x.GetShape());
        var stats = new float[2 * rows];
        Reference.LayerNorm<float>(x.Data, weight.Data, bias.Data, y.Data, stats, rows, features, epsilon);
        return Tensor.Record(y, "LayerNorm", new[] { x, weight, bias },
            (dy, dx) => Reference.LayerNormBackward<float>(x.Data, weight.Data, stats, dy, dx[0], dx[1], dx[2], rows, features));
    }

    /// <summary>
    /// Scaled dot-product attention with <paramref name="heads"/> heads over (batch, time, dim) queries, keys and values
    /// (head h owns features [h·dim/heads, (h+1)·dim/heads)); with <paramref name="causal"/> position i attends only to
    /// positions ≤ i.
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, int heads, bool causal = false)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        if (q.Rank != 3 || !q.Shape.SequenceEqual(k.Shape) || !q.Shape.SequenceEqual(v.Shape))
            throw new ArgumentException(
                $"ScaledDotProductAttention: queries {Tensor.FormatShape(q.Shape)}, keys {Tensor.FormatShape(k.Shape)} and values {Tensor.FormatShape(v.Shape)} must all be the same (batch, time, dim).");
        int batch = q.Dim(0), time = q.Dim(1), dim = q.Dim(2);
        if (heads <= 0 || dim % heads != 0)
            throw new ArgumentException($"ScaledDotProductAttention: dim {dim} is not divisible by {heads} heads.", nameof(heads));
        var y = new Tensor(q.GetShape());
        var probabilities = new float[batch * heads * time * time];
        Reference.Attention<float>(q.Data, k.Data, v.Data, y.Data, probabilities, batch, time, dim, heads, causal);
        return Tensor.Record(y, "ScaledDotProductAttention", new[] { q, k, v }, (dy, dx) =>
        {
            var dq = dx[0] ?? new float[q.Length];
            var dk = dx[1] ?? new float[k.Length];
            var dv = dx[2] ?? new float[v.Length];
            Reference.AttentionBackward<float>(q.Data, k.Data, v.Data, probabilities, dy, dq, dk, dv, batch, time, dim, heads);
        });
    }

    /// <summary>
    /// The LSTM recurrence from a zero state: <paramref name="xw"/> (batch, time, 4H) holds x·W_ih + biases (PyTorch gate
    /// blocks i, f, g, o), <paramref name="wHh"/> is (H, 4H); returns every hidden state (batch, time, H).
    /// </summary>
    public static Tensor LstmRecurrence(Tensor xw, Tensor wHh)
    {
        ArgumentNullException.ThrowIfNull(xw);
        ArgumentNullException.ThrowIfNull(wHh);
        if (xw.Rank != 3 || wHh.Rank != 2 || wHh.Dim(1) != 4 * wHh.Dim(0) || xw.Dim(2) != wHh.Dim(1))
            throw new ArgumentException($"LstmRecurrence: gates {Tensor.FormatShape(xw.Shape)} and recurrent weight {Tensor.FormatShape(wHh.Shape)} do not fit (need (B, T, 4H) and (H, 4H)).");
        int batch = xw.Dim(0), time = xw.Dim(1), hidden = wHh.Dim(0);
        var y = new Tensor(batch, time, hidden);
        var state = new float[batch * time * 5 * hidden];
        Reference.Lstm<float>(xw.Data, wHh.Data, y.Data, state, batch, time, hidden);
        return Tensor.Record(y, "LstmRecurrence", new[] { xw, wHh }, (dy, dx) =>
        {
            var dGates = dx[0] ?? new float[xw.Length];
            var dW = dx[1] ?? new float[wHh.Length];
            Reference.LstmBackward<float>(wHh.Data, y.Data, state, dy, dGates, dW, batch, time, hidden);
        });
    }

    /// <summary>
    /// The GRU recurrence from a zero state, as PyTorch: <paramref name="xw"/> (batch, time, 3H) holds x·W_ih + b_ih (gate
    /// blocks r, z, n), <paramref name="wHh"/> is (H, 3H) and <paramref name="bHh"/> (3H); returns every hidden state (batch, time, H).
    /// </summary>
    public static Tensor GruRecurrence(Tensor xw, Tensor wHh, Tensor bHh)
    {
        ArgumentNullException.ThrowIfNull(xw);
        ArgumentNullException.ThrowIfNull(wHh);
        ArgumentNullException.ThrowIfNull(bHh);
        if (xw.Rank != 3 || wHh.Rank != 2 || wHh.Dim(1) != 3 * wHh.Dim(0) || xw.Dim(2) != wHh.Dim(1) || bHh.Rank != 1 || bHh.Length != wHh.Dim(1))
            throw new ArgumentException($"GruRecurrence: gates {Tensor.FormatShape(xw.Shape)}, recurrent weight {Tensor.FormatShape(wHh.Shape)} and bias {Tensor.FormatShape(bHh.Shape)} do not fit (need (B, T, 3H), (H, 3H), (3H)).");
        int batch = xw.Dim(0), time = xw.Dim(1), hidden = wHh.Dim(0);
        var y = new Tensor(batch, time, hidden);
        var state = new float[batch * time * 4 * hidden];
        Reference.Gru<float>(xw.Data, wHh.Data, bHh.Data, y.Data, state, batch, time, hidden);
        return Tensor.Record(y, "GruRecurrence", new[] { xw, wHh, bHh }, (dy, dx) =>
        {
            var dXw = dx[0] ?? new float[xw.Length];
            var dHw = new float[xw.Length];
            Reference.GruBackward<float>(wHh.Data, y.Data, state, dy, dXw, dHw, dx[1], dx[2], batch, time, hidden);
        });
    }

    /// <summary>
    /// Mean over every position of the cross-entropy −Σ_c t_c·log softmax(logits)_c over the last dimension, with
    /// <paramref name="targets"/> a distribution of the same shape as <paramref name="logits"/> (one-hot rows for a class
    /// per position): for a language model logits and targets are (B, T, V). A compiled [Loss] gets its target tensor
    /// in the forward output's shape, which is why the targets are one-hot rather than ids.
    /// </summary>
    public static Tensor SequenceCrossEntropy(Tensor logits, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Rank < 1 || !logits.Shape.SequenceEqual(targets.Shape))
            throw new ArgumentException($"SequenceCrossEntropy: logits {Tensor.FormatShape(logits.Shape)} and targets {Tensor.FormatShape(targets.Shape)} must have the same shape.");
        int classes = logits.Dim(-1), rows = logits.Length / Math.Max(classes, 1);
        var probabilities = new float[logits.Length];
        float loss = Reference.SequenceCrossEntropy<float>(logits.Data, targets.Data, probabilities, rows, classes);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "SequenceCrossEntropy", new[] { logits, targets },
            (dy, dx) => { if (dx[0] != null) Reference.SequenceCrossEntropyBackward<float>(probabilities, targets.Data, dy[0], dx[0], rows, classes); });
    }
}
