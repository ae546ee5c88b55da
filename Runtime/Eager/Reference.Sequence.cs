using System;
using System.Numerics;

namespace ModelGen;

// The sequence family: embedding, layer normalization, GELU, multi-head attention, LSTM and GRU. Sequences are
// (batch, time, features) row-major; every buffer an op keeps for its backward pass (statistics, attention
// probabilities, gates) is passed in by the caller, so these kernels allocate nothing.
public static partial class Reference
{
    // ---------------------------------------------------------------- embedding

    /// <summary>y[r, :] = weight[ids[r], :] for each of the ids (token ids stored as floats, each an integer in [0, count)).</summary>
    public static void Embedding<T>(ReadOnlySpan<T> ids, ReadOnlySpan<T> weight, Span<T> y, int count, int dim) where T : IFloatingPointIeee754<T>
    {
        for (int r = 0; r < ids.Length; r++)
        {
            int id = TokenId(ids[r], count);
            weight.Slice(id * dim, dim).CopyTo(y.Slice(r * dim, dim));
        }
    }

    /// <summary>dWeight = scatter-add of dy's rows into the rows of their ids (overwrites dWeight). Ids take no gradient.</summary>
    public static void EmbeddingBackward<T>(ReadOnlySpan<T> ids, ReadOnlySpan<T> dy, Span<T> dWeight, int count, int dim) where T : IFloatingPointIeee754<T>
    {
        dWeight.Clear();
        for (int r = 0; r < ids.Length; r++)
        {
            int id = TokenId(ids[r], count);
            for (int j = 0; j < dim; j++) dWeight[id * dim + j] += dy[r * dim + j];
        }
    }

    /// <summary>A token id stored as a float: an integer in [0, count), else <see cref="ArgumentOutOfRangeException"/>.</summary>
    public static int TokenId<T>(T value, int count) where T : IFloatingPointIeee754<T>
    {
        double v = double.CreateChecked(value);
        if (!(v >= 0 && v < count) || v != Math.Floor(v))
            throw new ArgumentOutOfRangeException(nameof(value), v, $"Embedding: token id {v} is not an integer in [0, {count}).");
        return (int)v;
    }

    // ---------------------------------------------------------------- layer normalization

    /// <summary>
    /// Layer normalization of each row over its <paramref name="features"/> values: y = (x − mean)·rstd·weight + bias
    /// with rstd = 1/sqrt(var + eps) (biased variance, as PyTorch). stats receives (mean, rstd) per row.
    /// </summary>
    public static void LayerNorm<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> y, Span<T> stats, int rows, int features, double epsilon)
        where T : IFloatingPointIeee754<T>
    {
        T n = T.CreateChecked(features), eps = T.CreateChecked(epsilon);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * features, features);
            T mean = T.Zero;
            foreach (var v in row) mean += v;
            mean /= n;
            T variance = T.Zero;
            foreach (var v in row) variance += (v - mean) * (v - mean);
            variance /= n;
            T rstd = T.One / T.Sqrt(variance + eps);
            stats[2 * r] = mean;
            stats[2 * r + 1] = rstd;
            for (int j = 0; j < features; j++) y[r * features + j] = (row[j] - mean) * rstd * weight[j] + bias[j];
        }
    }

    /// <summary>Gradients of <see cref="LayerNorm{T}"/> (overwritten; empty spans are skipped).</summary>
    public static void LayerNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> stats, ReadOnlySpan<T> dy,
        Span<T> dx, Span<T> dWeight, Span<T> dBias, int rows, int features) where T : IFloatingPointIeee754<T>
    {
        dWeight.Clear();
        dBias.Clear();
        T n = T.CreateChecked(features);
        for (int r = 0; r < rows; r++)
        {
            T mean = stats[2 * r], rstd = stats[2 * r + 1];
            T sumG = T.Zero, sumGx = T.Zero;
            for (int j = 0; j < features; j++)
            {
                int i = r * features + j;
                T xhat = (x[i] - mean) * rstd;
                T g = dy[i] * weight[j];
                sumG += g;
                sumGx += g * xhat;
                if (!dWeight.IsEmpty) dWeight[j] += dy[i] * xhat;
                if (!dBias.IsEmpty) dBias[j] += dy[i];
            }
            if (dx.IsEmpty) continue;
            for (int j = 0; j < features; j++)
            {
                int i = r * features + j;
                T xhat = (x[i] - mean) * rstd;
                dx[i] = rstd * (dy[i] * weight[j] - sumG / n - xhat * sumGx / n);
            }
        }
    }

    // ---------------------------------------------------------------- GELU (exact, with erf)

    /// <summary>GELU(x) = x·Φ(x) = x/2·(1 + erf(x/√2)), the exact form (PyTorch's default, not the tanh approximation).</summary>
    public static void Gelu<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateChecked(x[i]);
            y[i] = T.CreateChecked(0.5 * v * (1 + Erf(v / Math.Sqrt(2))));
        }
    }

    /// <summary>dx = dy·(Φ(x) + x·φ(x)).</summary>
    public static void GeluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateChecked(x[i]);
            double cdf = 0.5 * (1 + Erf(v / Math.Sqrt(2))), pdf = Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI);
            dx[i] = dy[i] * T.CreateChecked(cdf + v * pdf);
        }
    }

    /// <summary>
    /// The error function to about 1e-15: the Maclaurin series for |x| &lt; 3 and the continued fraction of erfc above
    /// (erf(x) is 1 in double beyond 6).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        double result;
        if (ax < 3)
        {
            // erf x = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else if (ax < 6)
        {
            // erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated from the tail.
            double f = ax;
            for (int k = 80; k >= 1; k--) f = ax + k / 2.0 / f;
            result = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        }
        else result = 1;
        return x < 0 ? -result : result;
    }

    // ---------------------------------------------------------------- multi-head attention

    /// <summary>
    /// Scaled dot-product attention per head: q, k, v and y are (batch, time, dim) with head h owning features
    /// [h·dh, (h+1)·dh), dh = dim/heads; probabilities (batch, heads, time, time) receives softmax(q·kᵀ/√dh) (row i
    /// of a causal head is zero beyond column i).
    /// </summary>
    public static void Attention<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, Span<T> y, Span<T> probabilities,
        int batch, int time, int dim, int heads, bool causal) where T : IFloatingPointIeee754<T>
    {
        int dh = dim / heads;
        T scale = T.One / T.Sqrt(T.CreateChecked(dh));
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < time; i++)
        {
            var p = probabilities.Slice(((b * heads + h) * time + i) * time, time);
            int last = causal ? i : time - 1;
            T max = T.NegativeInfinity;
            for (int j = 0; j <= last; j++)
            {
                T s = T.Zero;
                for (int d = 0; d < dh; d++) s += q[(b * time + i) * dim + h * dh + d] * k[(b * time + j) * dim + h * dh + d];
                p[j] = s * scale;
                if (p[j] > max) max = p[j];
            }
            T sum = T.Zero;
            for (int j = 0; j <= last; j++) sum += p[j] = T.Exp(p[j] - max);
            for (int j = 0; j < time; j++) p[j] = j <= last ? p[j] / sum : T.Zero;
            for (int d = 0; d < dh; d++)
            {
                T acc = T.Zero;
                for (int j = 0; j <= last; j++) acc += p[j] * v[(b * time + j) * dim + h * dh + d];
                y[(b * time + i) * dim + h * dh + d] = acc;
            }
        }
    }

    /// <summary>Gradients of <see cref="Attention{T}"/> with respect to q, k and v (overwritten) from the saved probabilities.</summary>
    public static void AttentionBackward<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> probabilities, ReadOnlySpan<T> dy,
        Span<T> dq, Span<T> dk, Span<T> dv, int batch, int time, int dim, int heads) where T : IFloatingPointIeee754<T>
    {
        int dh = dim / heads;
        T scale = T.One / T.Sqrt(T.CreateChecked(dh));
        dq.Clear();
        dk.Clear();
        dv.Clear();
        var dp = new T[time];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < time; i++)
        {
            var p = probabilities.Slice(((b * heads + h) * time + i) * time, time);
            int yi = (b * time + i) * dim + h * dh;
            T dot = T.Zero;
            for (int j = 0; j < time; j++)
            {
                T s = T.Zero;
                for (int d = 0; d < dh; d++) s += dy[yi + d] * v[(b * time + j) * dim + h * dh + d];
                dp[j] = s;
                dot += s * p[j];
            }
            for (int j = 0; j < time; j++)
            {
                int rj = (b * time + j) * dim + h * dh;
                for (int d = 0; d < dh; d++) dv[rj + d] += p[j] * dy[yi + d];
                T ds = p[j] * (dp[j] - dot) * scale; // softmax backward, then the 1/√dh of the scores
                for (int d = 0; d < dh; d++)
                {
                    dq[yi + d] += ds * k[rj + d];
                    dk[rj + d] += ds * q[yi + d];
                }
            }
        }
    }

    // ---------------------------------------------------------------- LSTM (PyTorch gate order i, f, g, o)

    /// <summary>
    /// An LSTM over time from a zero state. xw (batch, time, 4H) holds x·W_ih + b_ih + b_hh (gate blocks i, f, g, o
    /// as PyTorch); wHh is (H, 4H) (PyTorch's weight_hh transposed). Per step: gates = xw_t + h_{t−1}·wHh;
    /// i, f, o = σ, g = tanh; c_t = f·c_{t−1} + i·g; h_t = o·tanh(c_t). y (batch, time, H) receives every h_t;
    /// state (batch, time, 5H) the activated gates i, f, g, o and c_t of each step.
    /// </summary>
    public static void Lstm<T>(ReadOnlySpan<T> xw, ReadOnlySpan<T> wHh, Span<T> y, Span<T> state, int batch, int time, int hidden)
        where T : IFloatingPointIeee754<T>
    {
        int H = hidden, G = 4 * H;
        for (int b = 0; b < batch; b++)
        for (int t = 0; t < time; t++)
        {
            var s = state.Slice((b * time + t) * 5 * H, 5 * H);
            for (int j = 0; j < G; j++)
            {
                T a = xw[(b * time + t) * G + j];
                if (t > 0) for (int m = 0; m < H; m++) a += y[(b * time + t - 1) * H + m] * wHh[m * G + j];
                s[j] = j >= 2 * H && j < 3 * H ? T.Tanh(a) : Sig(a);
            }
            for (int m = 0; m < H; m++)
            {
                T cPrev = t > 0 ? state[(b * time + t - 1) * 5 * H + 4 * H + m] : T.Zero;
                T c = s[H + m] * cPrev + s[m] * s[2 * H + m];
                s[4 * H + m] = c;
                y[(b * time + t) * H + m] = s[3 * H + m] * T.Tanh(c);
            }
        }
    }

    /// <summary>
    /// Backward through time of <see cref="Lstm{T}"/>: dGates (batch, time, 4H) receives the gradient of the gate
    /// pre-activations (which is also that of xw), dWHh (H, 4H) that of wHh (both overwritten).
    /// </summary>
    public static void LstmBackward<T>(ReadOnlySpan<T> wHh, ReadOnlySpan<T> y, ReadOnlySpan<T> state, ReadOnlySpan<T> dy,
        Span<T> dGates, Span<T> dWHh, int batch, int time, int hidden) where T : IFloatingPointIeee754<T>
    {
        int H = hidden, G = 4 * H;
        dWHh.Clear();
        var dh = new T[H];
        var dc = new T[H];
        for (int b = 0; b < batch; b++)
        {
            Array.Clear(dh);
            Array.Clear(dc);
            for (int t = time - 1; t >= 0; t--)
            {
                var s = state.Slice((b * time + t) * 5 * H, 5 * H);
                var dg = dGates.Slice((b * time + t) * G, G);
                for (int m = 0; m < H; m++)
                {
                    T i = s[m], f = s[H + m], g = s[2 * H + m], o = s[3 * H + m], c = s[4 * H + m], tc = T.Tanh(c);
                    T cPrev = t > 0 ? state[(b * time + t - 1) * 5 * H + 4 * H + m] : T.Zero;
                    T dhm = dh[m] + dy[(b * time + t) * H + m];
                    T dcm = dc[m] + dhm * o * (T.One - tc * tc);
                    dg[m] = dcm * g * i * (T.One - i);
                    dg[H + m] = dcm * cPrev * f * (T.One - f);
                    dg[2 * H + m] = dcm * i * (T.One - g * g);
                    dg[3 * H + m] = dhm * tc * o * (T.One - o);
                    dc[m] = dcm * f;
                }
                for (int m = 0; m < H; m++)
                {
                    T acc = T.Zero;
                    for (int j = 0; j < G; j++) acc += dg[j] * wHh[m * G + j];
                    dh[m] = t > 0 ? acc : T.Zero;
                    if (t > 0) for (int j = 0; j < G; j++) dWHh[m * G + j] += y[(b * time + t - 1) * H + m] * dg[j];
                }
            }
        }
    }

    // ---------------------------------------------------------------- GRU (PyTorch gate order r, z, n)

    /// <summary>
    /// A GRU over time from a zero state, as PyTorch: xw (batch, time, 3H) = x·W_ih + b_ih (blocks r, z, n); wHh
    /// (H, 3H) and bHh (3H). hw = h_{t−1}·wHh + bHh; r = σ(xw_r + hw_r), z = σ(xw_z + hw_z), n = tanh(xw_n + r·hw_n),
    /// h_t = (1 − z)·n + z·h_{t−1}. y (batch, time, H) receives every h_t; state (batch, time, 4H) holds r, z, n and hw_n.
    /// </summary>
    public static void Gru<T>(ReadOnlySpan<T> xw, ReadOnlySpan<T> wHh, ReadOnlySpan<T> bHh, Span<T> y, Span<T> state, int batch, int time, int hidden)
        where T : IFloatingPointIeee754<T>
    {
        int H = hidden, G = 3 * H;
        var hw = new T[G];
        for (int b = 0; b < batch; b++)
        for (int t = 0; t < time; t++)
        {
            var s = state.Slice((b * time + t) * 4 * H, 4 * H);
            var x = xw.Slice((b * time + t) * G, G);
            for (int j = 0; j < G; j++)
            {
                T a = bHh[j];
                if (t > 0) for (int m = 0; m < H; m++) a += y[(b * time + t - 1) * H + m] * wHh[m * G + j];
                hw[j] = a;
            }
            for (int m = 0; m < H; m++)
            {
                T r = Sig(x[m] + hw[m]), z = Sig(x[H + m] + hw[H + m]), n = T.Tanh(x[2 * H + m] + r * hw[2 * H + m]);
                T hPrev = t > 0 ? y[(b * time + t - 1) * H + m] : T.Zero;
                s[m] = r;
                s[H + m] = z;
                s[2 * H + m] = n;
                s[3 * H + m] = hw[2 * H + m];
                y[(b * time + t) * H + m] = (T.One - z) * n + z * hPrev;
            }
        }
    }

    /// <summary>
    /// Backward through time of <see cref="Gru{T}"/>: dXw (batch, time, 3H) is the gradient of xw; dHw (batch, time,
    /// 3H) that of hw (the recurrent pre-activations), from which dWHh = Σ h_{t−1}ᵀ·dHw_t and dBHh = Σ dHw_t follow
    /// (all overwritten; empty dWHh/dBHh are skipped).
    /// </summary>
    public static void GruBackward<T>(ReadOnlySpan<T> wHh, ReadOnlySpan<T> y, ReadOnlySpan<T> state, ReadOnlySpan<T> dy,
        Span<T> dXw, Span<T> dHw, Span<T> dWHh, Span<T> dBHh, int batch, int time, int hidden) where T : IFloatingPointIeee754<T>
    {
        int H = hidden, G = 3 * H;
        var dh = new T[H];
        for (int b = 0; b < batch; b++)
        {
            Array.Clear(dh);
            for (int t = time - 1; t >= 0; t--)
            {
                var s = state.Slice((b * time + t) * 4 * H, 4 * H);
                var dx = dXw.Slice((b * time + t) * G, G);
                var dhw = dHw.Slice((b * time + t) * G, G);
                for (int m = 0; m < H; m++)
                {
                    T r = s[m], z = s[H + m], n = s[2 * H + m], hwn = s[3 * H + m];
                    T hPrev = t > 0 ? y[(b * time + t - 1) * H + m] : T.Zero;
                    T dhm = dh[m] + dy[(b * time + t) * H + m];
                    T dn = dhm * (T.One - z) * (T.One - n * n);
                    T dz = dhm * (hPrev - n) * z * (T.One - z);
                    T dr = dn * hwn * r * (T.One - r);
                    dx[m] = dr; dx[H + m] = dz; dx[2 * H + m] = dn;
                    dhw[m] = dr; dhw[H + m] = dz; dhw[2 * H + m] = dn * r;
                    dh[m] = dhm * z; // the direct path h_t = … + z·h_{t−1}
                }
                if (t == 0) continue;
                for (int m = 0; m < H; m++)
                {
                    T acc = T.Zero;
                    for (int j = 0; j < G; j++) acc += dhw[j] * wHh[m * G + j];
                    dh[m] += acc;
                }
            }
        }
        if (!dWHh.IsEmpty)
        {
            dWHh.Clear();
            for (int b = 0; b < batch; b++)
            for (int t = 1; t < time; t++)
            for (int m = 0; m < H; m++)
            for (int j = 0; j < G; j++)
                dWHh[m * G + j] += y[(b * time + t - 1) * H + m] * dHw[(b * time + t) * G + j];
        }
        if (!dBHh.IsEmpty)
        {
            dBHh.Clear();
            for (int r = 0; r < batch * time; r++)
            for (int j = 0; j < G; j++) dBHh[j] += dHw[r * G + j];
        }
    }

    // ---------------------------------------------------------------- per-position cross-entropy

    /// <summary>
    /// Mean over rows of the cross-entropy −Σ_c t_c·log softmax(logits)_c between each row of logits (rows, classes) and
    /// the target distribution of the same shape (one-hot for a class per position). probabilities receives the softmax.
    /// </summary>
    public static T SequenceCrossEntropy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> probabilities, int rows, int classes)
        where T : IFloatingPointIeee754<T>
    {
        T total = T.Zero;
        for (int r = 0; r < rows; r++)
        {
            var x = logits.Slice(r * classes, classes);
            var p = probabilities.Slice(r * classes, classes);
            T max = T.NegativeInfinity;
            foreach (var v in x) if (v > max) max = v;
            T sum = T.Zero;
            for (int c = 0; c < classes; c++) sum += p[c] = T.Exp(x[c] - max);
            for (int c = 0; c < classes; c++) p[c] /= sum;
            T logSum = max + T.Log(sum);
            for (int c = 0; c < classes; c++)
                if (targets[r * classes + c] != T.Zero) total += targets[r * classes + c] * (logSum - x[c]);
        }
        return total / T.CreateChecked(rows);
    }

    /// <summary>dLogits = dLoss·(probabilities·Σ_c t_c − t)/rows (overwritten); the targets take no gradient.</summary>
    public static void SequenceCrossEntropyBackward<T>(ReadOnlySpan<T> probabilities, ReadOnlySpan<T> targets, T dLoss, Span<T> dLogits, int rows, int classes)
        where T : IFloatingPointIeee754<T>
    {
        T scale = dLoss / T.CreateChecked(rows);
        for (int r = 0; r < rows; r++)
        {
            T mass = T.Zero;
            for (int c = 0; c < classes; c++) mass += targets[r * classes + c];
            for (int c = 0; c < classes; c++)
                dLogits[r * classes + c] = (probabilities[r * classes + c] * mass - targets[r * classes + c]) * scale;
        }
    }

    static T Sig<T>(T a) where T : IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-a));
}
