using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Cpu;

// The sequence family's kernels: embedding, layer normalization, GELU, multi-head attention, LSTM, GRU and the
// per-token cross-entropy. Sequences are (batch, time, features) row-major. Matrix products (attention scores per
// (batch, head), the recurrent products of LSTM and GRU, their weight gradients) run through Gemm.Sgemm on strided
// views; the rest are plain loops. Every buffer they keep or need (probabilities, gates, BPTT carries) is passed in.
public static partial class Kernels
{
    // ---------------------------------------------------------------- embedding

    /// <summary>y[r, :] = weight[ids[r], :]; ids are token ids stored as floats.</summary>
    /// <param name="ids">The token ids, one per output row.</param>
    /// <param name="weight">The table, count × dim.</param>
    /// <param name="y">The output, ids.Length × dim.</param>
    /// <param name="count">Rows of the table.</param>
    /// <param name="dim">Columns of the table.</param>
    /// <exception cref="ArgumentOutOfRangeException">An id is not an integer in [0, count).</exception>
    public static void Embedding(ReadOnlySpan<float> ids, ReadOnlySpan<float> weight, Span<float> y, int count, int dim)
    {
        CheckEmbedding(ids, weight.Length, count, dim, nameof(Embedding), nameof(weight));
        CheckLength(y.Length, Elements(ids.Length, dim), nameof(y));
        for (int r = 0; r < ids.Length; r++)
            weight.Slice((int)ids[r] * dim, dim).CopyTo(y.Slice(r * dim, dim));
    }

    /// <summary>dWeight = Σ over rows of dy scattered into their ids' rows (overwritten).</summary>
    /// <param name="ids">The token ids.</param>
    /// <param name="dy">The output gradient, ids.Length × dim.</param>
    /// <param name="dWeight">The table's gradient, count × dim.</param>
    /// <param name="count">Rows of the table.</param>
    /// <param name="dim">Columns of the table.</param>
    public static void EmbeddingBackward(ReadOnlySpan<float> ids, ReadOnlySpan<float> dy, Span<float> dWeight, int count, int dim)
    {
        CheckEmbedding(ids, dWeight.Length, count, dim, nameof(EmbeddingBackward), nameof(dWeight));
        CheckLength(dy.Length, Elements(ids.Length, dim), nameof(dy));
        dWeight.Clear();
        for (int r = 0; r < ids.Length; r++)
        {
            var row = dWeight.Slice((int)ids[r] * dim, dim);
            var g = dy.Slice(r * dim, dim);
            for (int j = 0; j < dim; j++) row[j] += g[j];
        }
    }

    /// <summary>The table's sizes against its buffer, and every id an integer in [0, count), before anything is written.</summary>
    static void CheckEmbedding(ReadOnlySpan<float> ids, int tableLength, int count, int dim, string kernel, string tableName)
    {
        if (count < 0 || dim < 0)
            throw new ArgumentException($"{kernel}: the table must have non-negative sizes (count={count}, dim={dim}).");
        CheckLength(tableLength, Elements(count, dim), tableName);
        CheckIndices(ids, 0, count, kernel, nameof(ids));
    }

    // ---------------------------------------------------------------- layer normalization

    /// <summary>Layer normalization of each row: y = (x − mean)·rstd·weight + bias; stats receives (mean, rstd) per row.</summary>
    /// <param name="x">The input, rows × features.</param>
    /// <param name="weight">The scale, features values.</param>
    /// <param name="bias">The shift, features values.</param>
    /// <param name="y">The output, rows × features.</param>
    /// <param name="stats">Receives mean and 1/sqrt(var + eps) of each row (2·rows values).</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="features">The length of a row.</param>
    /// <param name="epsilon">Added to the (biased) variance.</param>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, Span<float> stats, int rows, int features, float epsilon)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * features, features);
            double sum = 0;
            for (int j = 0; j < features; j++) sum += row[j];
            float mean = (float)(sum / features);
            double sq = 0;
            for (int j = 0; j < features; j++) { float d = row[j] - mean; sq += d * d; }
            float rstd = 1f / MathF.Sqrt((float)(sq / features) + epsilon);
            stats[2 * r] = mean;
            stats[2 * r + 1] = rstd;
            var o = y.Slice(r * features, features);
            for (int j = 0; j < features; j++) o[j] = (row[j] - mean) * rstd * weight[j] + bias[j];
        }
    }

    /// <summary>The input gradient of <see cref="LayerNorm"/>: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·weight.</summary>
    /// <param name="x">The forward input.</param>
    /// <param name="weight">The scale.</param>
    /// <param name="stats">The forward's (mean, rstd) per row.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dx">The input gradient (overwritten).</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="features">The length of a row.</param>
    public static void LayerNormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> stats, ReadOnlySpan<float> dy, Span<float> dx, int rows, int features)
    {
        for (int r = 0; r < rows; r++)
        {
            float mean = stats[2 * r], rstd = stats[2 * r + 1];
            int o = r * features;
            float sumG = 0, sumGx = 0;
            for (int j = 0; j < features; j++)
            {
                float g = dy[o + j] * weight[j];
                sumG += g;
                sumGx += g * (x[o + j] - mean) * rstd;
            }
            sumG /= features;
            sumGx /= features;
            for (int j = 0; j < features; j++)
                dx[o + j] = rstd * (dy[o + j] * weight[j] - sumG - (x[o + j] - mean) * rstd * sumGx);
        }
    }

    /// <summary>The weight gradient of <see cref="LayerNorm"/>: dWeight[j] = Σ_rows dy·x̂ (overwritten).</summary>
    /// <param name="x">The forward input.</param>
    /// <param name="stats">The forward's (mean, rstd) per row.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dWeight">The weight gradient, features values.</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="features">The length of a row.</param>
    public static void LayerNormWeightBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> stats, ReadOnlySpan<float> dy, Span<float> dWeight, int rows, int features)
    {
        dWeight.Clear();
        for (int r = 0; r < rows; r++)
        {
            float mean = stats[2 * r], rstd = stats[2 * r + 1];
            int o = r * features;
            for (int j = 0; j < features; j++) dWeight[j] += dy[o + j] * (x[o + j] - mean) * rstd;
        }
    }

    // ---------------------------------------------------------------- GELU

    // erf by Abramowitz & Stegun 7.1.26: erf|x| = 1 − (a1 t + … + a5 t⁵)·e^{−x²}, t = 1/(1 + p|x|); |error| ≤ 1.5e-7.
    const float ErfP = 0.3275911f, ErfA1 = 0.254829592f, ErfA2 = -0.284496736f, ErfA3 = 1.421413741f, ErfA4 = -1.453152027f, ErfA5 = 1.061405429f;
    const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>erf(x) to about 2e-7 absolute (Abramowitz &amp; Stegun 7.1.26 in float).</summary>
    /// <param name="x">The input.</param>
    /// <returns>erf(x).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Erf(float x)
    {
        float ax = MathF.Abs(x), t = 1f / (1f + ErfP * ax);
        float poly = ((((ErfA5 * t + ErfA4) * t + ErfA3) * t + ErfA2) * t + ErfA1) * t;
        float e = 1f - poly * MathF.Exp(-ax * ax);
        return x < 0 ? -e : e;
    }

    /// <summary>erf of each lane (the same formula as the scalar form).</summary>
    /// <param name="x">The input lanes.</param>
    /// <returns>erf(x) per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(ErfP) * ax);
        var poly = ((((Vector256.Create(ErfA5) * t + Vector256.Create(ErfA4)) * t + Vector256.Create(ErfA3)) * t + Vector256.Create(ErfA2)) * t + Vector256.Create(ErfA1)) * t;
        var e = Vector256<float>.One - poly * Vector256.Exp(-(ax * ax));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -e, e);
    }

    /// <summary>erf of each lane (the same formula as the scalar form).</summary>
    /// <param name="x">The input lanes.</param>
    /// <returns>erf(x) per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(ErfP) * ax);
        var poly = ((((Vector512.Create(ErfA5) * t + Vector512.Create(ErfA4)) * t + Vector512.Create(ErfA3)) * t + Vector512.Create(ErfA2)) * t + Vector512.Create(ErfA1)) * t;
        var e = Vector512<float>.One - poly * Vector512.Exp(-(ax * ax));
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -e, e);
    }

    /// <summary>GELU(x) = x·Φ(x) = x/2·(1 + erf(x/√2)) (the exact form, PyTorch's default).</summary>
    /// <param name="x">The input.</param>
    /// <returns>GELU(x).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x) => 0.5f * x * (1f + Erf(x * InvSqrt2));

    /// <summary>GELU of each lane.</summary>
    /// <param name="x">The input lanes.</param>
    /// <returns>GELU(x) per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256<float>.One + Erf(x * Vector256.Create(InvSqrt2)));

    /// <summary>GELU of each lane.</summary>
    /// <param name="x">The input lanes.</param>
    /// <returns>GELU(x) per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512<float>.One + Erf(x * Vector512.Create(InvSqrt2)));

    /// <summary>The GELU gradient: dy·(Φ(x) + x·φ(x)).</summary>
    /// <param name="x">The forward input.</param>
    /// <param name="dy">The output gradient.</param>
    /// <returns>The input gradient.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GeluGrad(float x, float dy) =>
        dy * (0.5f * (1f + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * MathF.Exp(-0.5f * x * x));

    /// <summary>The GELU gradient of each lane.</summary>
    /// <param name="x">The forward input lanes.</param>
    /// <param name="dy">The output gradient lanes.</param>
    /// <returns>The input gradient lanes.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluGrad(Vector256<float> x, Vector256<float> dy) =>
        dy * (Vector256.Create(0.5f) * (Vector256<float>.One + Erf(x * Vector256.Create(InvSqrt2)))
              + x * Vector256.Create(InvSqrt2Pi) * Vector256.Exp(Vector256.Create(-0.5f) * x * x));

    /// <summary>The GELU gradient of each lane.</summary>
    /// <param name="x">The forward input lanes.</param>
    /// <param name="dy">The output gradient lanes.</param>
    /// <returns>The input gradient lanes.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GeluGrad(Vector512<float> x, Vector512<float> dy) =>
        dy * (Vector512.Create(0.5f) * (Vector512<float>.One + Erf(x * Vector512.Create(InvSqrt2)))
              + x * Vector512.Create(InvSqrt2Pi) * Vector512.Exp(Vector512.Create(-0.5f) * x * x));

    // ---------------------------------------------------------------- multi-head attention

    /// <summary>
    /// Scaled dot-product attention per (batch, head) with Sgemm on strided views: q, k, v, y are batch × time × dim,
    /// head h owns features [h·dh, (h+1)·dh); probabilities (batch × heads × time × time) receives softmax(q·kᵀ/√dh),
    /// zero above the diagonal when causal. Softmax subtracts each row's maximum.
    /// </summary>
    /// <param name="q">Queries.</param>
    /// <param name="k">Keys.</param>
    /// <param name="v">Values.</param>
    /// <param name="y">The output.</param>
    /// <param name="probabilities">The attention weights, kept for the backward pass.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width (a multiple of heads).</param>
    /// <param name="heads">The number of heads.</param>
    /// <param name="causal">Whether position i attends only to positions ≤ i.</param>
    public static void Attention(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> y, Span<float> probabilities,
        int batch, int time, int dim, int heads, bool causal)
    {
        int dh = dim / heads, tt = time * time;
        float scale = 1f / MathF.Sqrt(dh);
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int off = b * time * dim + h * dh;
            var p = probabilities.Slice((b * heads + h) * tt, tt);
            Gemm.Sgemm(false, true, time, time, dh, q.Slice(off), dim, k.Slice(off), dim, p, time);
            for (int i = 0; i < time; i++)
            {
                var row = p.Slice(i * time, time);
                int last = causal ? i : time - 1;
                float max = float.NegativeInfinity;
                for (int j = 0; j <= last; j++) max = MathF.Max(max, row[j]);
                float sum = 0;
                for (int j = 0; j <= last; j++) sum += row[j] = MathF.Exp((row[j] - max) * scale);
                float inv = 1f / sum;
                for (int j = 0; j <= last; j++) row[j] *= inv;
                row.Slice(last + 1).Clear();
            }
            Gemm.Sgemm(false, false, time, dh, time, p, time, v.Slice(off), dim, y.Slice(off), dim);
        }
    }

    /// <summary>
    /// The gradient of the attention scores (before the softmax, including the 1/√dh scale), per (batch, head):
    /// dS = P ⊙ (dY·Vᵀ − rowsum(P ⊙ dY·Vᵀ))/√dh.
    /// </summary>
    /// <param name="probabilities">The forward's attention weights.</param>
    /// <param name="v">The forward's values.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dScores">Receives dS, batch × heads × time × time.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardScores(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> v, ReadOnlySpan<float> dy, Span<float> dScores,
        int batch, int time, int dim, int heads)
    {
        int dh = dim / heads, tt = time * time;
        float scale = 1f / MathF.Sqrt(dh);
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int off = b * time * dim + h * dh;
            var ds = dScores.Slice((b * heads + h) * tt, tt);
            var p = probabilities.Slice((b * heads + h) * tt, tt);
            Gemm.Sgemm(false, true, time, time, dh, dy.Slice(off), dim, v.Slice(off), dim, ds, time);
            for (int i = 0; i < time; i++)
            {
                var row = ds.Slice(i * time, time);
                var pr = p.Slice(i * time, time);
                float dot = 0;
                for (int j = 0; j < time; j++) dot += row[j] * pr[j];
                for (int j = 0; j < time; j++) row[j] = pr[j] * (row[j] - dot) * scale;
            }
        }
    }

    /// <summary>dQ = dS·K per (batch, head) (overwritten).</summary>
    /// <param name="dScores">From <see cref="AttentionBackwardScores"/>.</param>
    /// <param name="k">The forward's keys.</param>
    /// <param name="dq">The query gradient, batch × time × dim.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardQuery(ReadOnlySpan<float> dScores, ReadOnlySpan<float> k, Span<float> dq, int batch, int time, int dim, int heads)
    {
        int dh = dim / heads, tt = time * time;
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int off = b * time * dim + h * dh;
            Gemm.Sgemm(false, false, time, dh, time, dScores.Slice((b * heads + h) * tt, tt), time, k.Slice(off), dim, dq.Slice(off), dim);
        }
    }

    /// <summary>dK = dSᵀ·Q per (batch, head) (overwritten).</summary>
    /// <param name="dScores">From <see cref="AttentionBackwardScores"/>.</param>
    /// <param name="q">The forward's queries.</param>
    /// <param name="dk">The key gradient, batch × time × dim.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardKey(ReadOnlySpan<float> dScores, ReadOnlySpan<float> q, Span<float> dk, int batch, int time, int dim, int heads)
    {
        int dh = dim / heads, tt = time * time;
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int off = b * time * dim + h * dh;
            Gemm.Sgemm(true, false, time, dh, time, dScores.Slice((b * heads + h) * tt, tt), time, q.Slice(off), dim, dk.Slice(off), dim);
        }
    }

    /// <summary>dV = Pᵀ·dY per (batch, head) (overwritten).</summary>
    /// <param name="probabilities">The forward's attention weights.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dv">The value gradient, batch × time × dim.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardValue(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> dy, Span<float> dv, int batch, int time, int dim, int heads)
    {
        int dh = dim / heads, tt = time * time;
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int off = b * time * dim + h * dh;
            Gemm.Sgemm(true, false, time, dh, time, probabilities.Slice((b * heads + h) * tt, tt), time, dy.Slice(off), dim, dv.Slice(off), dim);
        }
    }

    // ---------------------------------------------------------------- LSTM

    /// <summary>
    /// LSTM forward over time from a zero state (PyTorch gates i, f, g, o): gates_t = xw_t + h_{t−1}·wHh (Sgemm over the
    /// batch rows of step t), c_t = f·c_{t−1} + i·g, h_t = o·tanh(c_t).
    /// </summary>
    /// <param name="xw">x·W_ih + biases, batch × time × 4H.</param>
    /// <param name="wHh">The recurrent weight, H × 4H.</param>
    /// <param name="y">Receives h_t, batch × time × H.</param>
    /// <param name="state">Receives the activated gates and c_t, batch × time × 5H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void Lstm(ReadOnlySpan<float> xw, ReadOnlySpan<float> wHh, Span<float> y, Span<float> state, int batch, int time, int hidden)
    {
        int H = hidden, G = 4 * H, S = 5 * H;
        for (int t = 0; t < time; t++)
        {
            if (t > 0) Gemm.Sgemm(false, false, batch, G, H, y.Slice((t - 1) * H), time * H, wHh, G, state.Slice(t * S), time * S);
            for (int b = 0; b < batch; b++)
            {
                var s = state.Slice((b * time + t) * S, S);
                var x = xw.Slice((b * time + t) * G, G);
                for (int j = 0; j < G; j++)
                {
                    float a = t > 0 ? s[j] + x[j] : x[j];
                    s[j] = j >= 2 * H && j < 3 * H ? VMath.Tanh(a) : VMath.Sigmoid(a);
                }
                for (int m = 0; m < H; m++)
                {
                    float cPrev = t > 0 ? state[(b * time + t - 1) * S + 4 * H + m] : 0f;
                    float c = s[H + m] * cPrev + s[m] * s[2 * H + m];
                    s[4 * H + m] = c;
                    y[(b * time + t) * H + m] = s[3 * H + m] * VMath.Tanh(c);
                }
            }
        }
    }

    /// <summary>
    /// LSTM backward through time: dGates (batch × time × 4H) receives the gradient of the gate pre-activations (that
    /// of xw); the carried dh and dc live in <paramref name="carry"/> (batch × 2H).
    /// </summary>
    /// <param name="wHh">The recurrent weight, H × 4H.</param>
    /// <param name="state">The forward's gates and cell states.</param>
    /// <param name="dy">The gradient of every h_t, batch × time × H.</param>
    /// <param name="dGates">The gate gradient (overwritten).</param>
    /// <param name="carry">Scratch, batch × 2H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void LstmBackward(ReadOnlySpan<float> wHh, ReadOnlySpan<float> state, ReadOnlySpan<float> dy, Span<float> dGates, Span<float> carry, int batch, int time, int hidden)
    {
        int H = hidden, G = 4 * H, S = 5 * H;
        carry.Slice(0, batch * 2 * H).Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            for (int b = 0; b < batch; b++)
            {
                var s = state.Slice((b * time + t) * S, S);
                var dg = dGates.Slice((b * time + t) * G, G);
                var dh = carry.Slice(b * 2 * H, H);
                var dc = carry.Slice(b * 2 * H + H, H);
                for (int m = 0; m < H; m++)
                {
                    float i = s[m], f = s[H + m], g = s[2 * H + m], o = s[3 * H + m], tc = VMath.Tanh(s[4 * H + m]);
                    float cPrev = t > 0 ? state[(b * time + t - 1) * S + 4 * H + m] : 0f;
                    float dhm = dh[m] + dy[(b * time + t) * H + m];
                    float dcm = dc[m] + dhm * o * (1f - tc * tc);
                    dg[m] = dcm * g * i * (1f - i);
                    dg[H + m] = dcm * cPrev * f * (1f - f);
                    dg[2 * H + m] = dcm * i * (1f - g * g);
                    dg[3 * H + m] = dhm * tc * o * (1f - o);
                    dc[m] = dcm * f;
                }
            }
            // dh_{t−1} = dGates_t · wHhᵀ for every batch row at once
            if (t > 0) Gemm.Sgemm(false, true, batch, H, G, dGates.Slice(t * G), time * G, wHh, G, carry, 2 * H);
        }
    }

    /// <summary>The recurrent weight gradient Σ_b Σ_{t≥1} h_{t−1}ᵀ·d_t (H × width, overwritten) from the hidden states and a per-step gradient.</summary>
    /// <param name="y">The hidden states, batch × time × H.</param>
    /// <param name="dPre">The gradient of the recurrent pre-activations, rows of <paramref name="width"/> with stride <paramref name="rowsPerBatch"/>·width per batch.</param>
    /// <param name="dW">The weight gradient (overwritten).</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    /// <param name="width">The gate width (4H for LSTM, 3H for GRU).</param>
    /// <param name="rowsPerBatch">Rows of dPre per batch element (time, or time + 1 when a scratch row follows).</param>
    public static void RecurrentWeightBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dPre, Span<float> dW, int batch, int time, int hidden, int width, int rowsPerBatch)
    {
        dW.Clear();
        if (time < 2) return;
        for (int b = 0; b < batch; b++)
            Gemm.Sgemm(true, false, hidden, width, time - 1, y.Slice(b * time * hidden), hidden, dPre.Slice((b * rowsPerBatch + 1) * width), width, dW, width, accumulate: true);
    }

    // ---------------------------------------------------------------- GRU

    /// <summary>
    /// GRU forward over time from a zero state, as PyTorch (gates r, z, n): hw = h_{t−1}·wHh + bHh (Sgemm with bias),
    /// r = σ(xw_r + hw_r), z = σ(xw_z + hw_z), n = tanh(xw_n + r·hw_n), h_t = (1 − z)·n + z·h_{t−1}.
    /// </summary>
    /// <param name="xw">x·W_ih + b_ih, batch × time × 3H.</param>
    /// <param name="wHh">The recurrent weight, H × 3H.</param>
    /// <param name="bHh">The recurrent bias, 3H.</param>
    /// <param name="y">Receives h_t, batch × time × H.</param>
    /// <param name="state">Receives r, z, n and hw of each step, batch × time × 6H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void Gru(ReadOnlySpan<float> xw, ReadOnlySpan<float> wHh, ReadOnlySpan<float> bHh, Span<float> y, Span<float> state, int batch, int time, int hidden)
    {
        int H = hidden, G = 3 * H, S = 6 * H;
        for (int t = 0; t < time; t++)
        {
            if (t > 0) Gemm.Sgemm(false, false, batch, G, H, y.Slice((t - 1) * H), time * H, wHh, G, state.Slice(t * S + G), time * S, bias: bHh);
            for (int b = 0; b < batch; b++)
            {
                var s = state.Slice((b * time + t) * S, S);
                var x = xw.Slice((b * time + t) * G, G);
                var hw = s.Slice(G, G);
                if (t == 0) bHh.Slice(0, G).CopyTo(hw);
                for (int m = 0; m < H; m++)
                {
                    float r = VMath.Sigmoid(x[m] + hw[m]), z = VMath.Sigmoid(x[H + m] + hw[H + m]);
                    float n = VMath.Tanh(x[2 * H + m] + r * hw[2 * H + m]);
                    float hPrev = t > 0 ? y[(b * time + t - 1) * H + m] : 0f;
                    s[m] = r;
                    s[H + m] = z;
                    s[2 * H + m] = n;
                    y[(b * time + t) * H + m] = (1f - z) * n + z * hPrev;
                }
            }
        }
    }

    /// <summary>
    /// GRU backward through time: dXw (batch × time × 3H) receives the gradient of xw; <paramref name="work"/>
    /// (batch × (time + 1) × 3H) receives that of hw in its first time rows per batch element, and its last row
    /// carries dh.
    /// </summary>
    /// <param name="wHh">The recurrent weight, H × 3H.</param>
    /// <param name="y">The forward's hidden states.</param>
    /// <param name="state">The forward's r, z, n, hw.</param>
    /// <param name="dy">The gradient of every h_t.</param>
    /// <param name="dXw">The xw gradient (overwritten).</param>
    /// <param name="work">dHw and the dh carry (overwritten).</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void GruBackward(ReadOnlySpan<float> wHh, ReadOnlySpan<float> y, ReadOnlySpan<float> state, ReadOnlySpan<float> dy,
        Span<float> dXw, Span<float> work, int batch, int time, int hidden)
    {
        int H = hidden, G = 3 * H, S = 6 * H, W = (time + 1) * G;
        for (int b = 0; b < batch; b++) work.Slice(b * W + time * G, H).Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            for (int b = 0; b < batch; b++)
            {
                var s = state.Slice((b * time + t) * S, S);
                var dx = dXw.Slice((b * time + t) * G, G);
                var dhw = work.Slice(b * W + t * G, G);
                var dh = work.Slice(b * W + time * G, H);
                for (int m = 0; m < H; m++)
                {
                    float r = s[m], z = s[H + m], n = s[2 * H + m], hwn = s[G + 2 * H + m];
                    float hPrev = t > 0 ? y[(b * time + t - 1) * H + m] : 0f;
                    float dhm = dh[m] + dy[(b * time + t) * H + m];
                    float dn = dhm * (1f - z) * (1f - n * n);
                    float dz = dhm * (hPrev - n) * z * (1f - z);
                    float dr = dn * hwn * r * (1f - r);
                    dx[m] = dr; dx[H + m] = dz; dx[2 * H + m] = dn;
                    dhw[m] = dr; dhw[H + m] = dz; dhw[2 * H + m] = dn * r;
                    dh[m] = dhm * z;
                }
            }
            // dh_{t−1} += dHw_t · wHhᵀ for every batch row at once
            if (t > 0) Gemm.Sgemm(false, true, batch, H, G, work.Slice(t * G), W, wHh, G, work.Slice(time * G), W, accumulate: true);
        }
    }

    /// <summary>The recurrent bias gradient of the GRU: Σ over batch and time of dHw (overwritten).</summary>
    /// <param name="work">The work buffer of <see cref="GruBackward"/>.</param>
    /// <param name="dB">The bias gradient, 3H.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="hidden">H.</param>
    public static void GruBiasBackward(ReadOnlySpan<float> work, Span<float> dB, int batch, int time, int hidden)
    {
        int G = 3 * hidden, W = (time + 1) * G;
        dB.Slice(0, G).Clear();
        for (int b = 0; b < batch; b++)
        for (int t = 0; t < time; t++)
        {
            var row = work.Slice(b * W + t * G, G);
            for (int j = 0; j < G; j++) dB[j] += row[j];
        }
    }

    // ---------------------------------------------------------------- per-position cross-entropy

    /// <summary>Mean over rows of −Σ_c t_c·log softmax(logits)_c (targets: a distribution per row, one-hot for class ids); keeps the softmax.</summary>
    /// <param name="logits">rows × classes.</param>
    /// <param name="targets">rows × classes.</param>
    /// <param name="probabilities">Receives the softmax, rows × classes.</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="classes">The number of classes.</param>
    /// <returns>The mean loss.</returns>
    public static float SequenceCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> probabilities, int rows, int classes)
    {
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var x = logits.Slice(r * classes, classes);
            var t = targets.Slice(r * classes, classes);
            var p = probabilities.Slice(r * classes, classes);
            float max = float.NegativeInfinity;
            foreach (float v in x) max = MathF.Max(max, v);
            float sum = 0;
            for (int c = 0; c < classes; c++) sum += p[c] = MathF.Exp(x[c] - max);
            float inv = 1f / sum, logSum = max + MathF.Log(sum);
            for (int c = 0; c < classes; c++)
            {
                p[c] *= inv;
                if (t[c] != 0) total += t[c] * (logSum - x[c]);
            }
        }
        return (float)(total / rows);
    }

    /// <summary>dLogits = dLoss·(probabilities·Σ_c t_c − t)/rows (overwritten).</summary>
    /// <param name="probabilities">From <see cref="SequenceCrossEntropy"/>.</param>
    /// <param name="targets">rows × classes.</param>
    /// <param name="dLoss">The loss gradient.</param>
    /// <param name="dLogits">The logits gradient.</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="classes">The number of classes.</param>
    public static void SequenceCrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> targets, float dLoss, Span<float> dLogits, int rows, int classes)
    {
        float scale = dLoss / rows;
        for (int r = 0; r < rows; r++)
        {
            var t = targets.Slice(r * classes, classes);
            float mass = 0;
            for (int c = 0; c < classes; c++) mass += t[c];
            for (int c = 0; c < classes; c++)
                dLogits[r * classes + c] = (probabilities[r * classes + c] * mass - t[c]) * scale;
        }
    }
}
