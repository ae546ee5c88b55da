using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Cpu;

// Convolution, pooling and layout kernels over NCHW images. Convolution is im2col + GEMM, one image at a time:
// the image's patches are unrolled into a (C·k·k) × (Ho·Wo) matrix in a workspace of one image's size (from the
// activation arena, so nothing is allocated per step), and each channel group is one Gemm.Sgemm:
//   forward          y[n, g]   (O/G × HoWo)      = w[g] (O/G × Ck²/G) · col[g] (Ck²/G × HoWo)
//   backward data    dcol[g]   (Ck²/G × HoWo)    = w[g]ᵀ · dy[n, g], then col2im adds it into dx[n]
//   backward weight  dw[g]     (O/G × Ck²/G)    += dy[n, g] · col[g]ᵀ  (im2col recomputed per image)
// A 1×1 convolution with stride 1 and no padding uses the image itself as its column matrix.
public static partial class Kernels
{
    /// <summary>
    /// Unrolls one image (C × H × W) into its column matrix col (C·k·k rows, Ho·Wo columns): row (c, u, v), column
    /// (i, j) holds x[c, i·s − p + u·d, j·s − p + v·d], or 0 where that tap falls in the padding.
    /// </summary>
    /// <param name="x">One image, C·H·W values.</param>
    /// <param name="col">Receives C·k·k·Ho·Wo values.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">k.</param>
    /// <param name="stride">s.</param>
    /// <param name="padding">p.</param>
    /// <param name="dilation">d.</param>
    public static void Im2Col(ReadOnlySpan<float> x, Span<float> col, int channels, int height, int width, int kernel, int stride, int padding, int dilation)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, dilation), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, dilation);
        CheckLength(x.Length, (long)channels * height * width, nameof(x));
        CheckLength(col.Length, (long)channels * kernel * kernel * ho * wo, nameof(col));
        int row = 0;
        for (int c = 0; c < channels; c++)
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++, row++)
        {
            Span<float> dst = col.Slice(row * ho * wo, ho * wo);
            var (j0, j1) = ValidRange(wo, width, stride, v * dilation - padding);
            for (int i = 0; i < ho; i++)
            {
                Span<float> line = dst.Slice(i * wo, wo);
                int r = i * stride - padding + u * dilation;
                if (r < 0 || r >= height || j0 >= j1)
                {
                    line.Clear();
                    continue;
                }
                line.Slice(0, j0).Clear();
                line.Slice(j1).Clear();
                ReadOnlySpan<float> src = x.Slice((c * height + r) * width, width);
                int q0 = j0 * stride + v * dilation - padding;
                if (stride == 1)
                    src.Slice(q0, j1 - j0).CopyTo(line.Slice(j0));
                else
                    for (int j = j0, q = q0; j < j1; j++, q += stride) line[j] = src[q];
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: adds every column-matrix entry into the image tap it came from (dx is not cleared).</summary>
    /// <param name="col">C·k·k·Ho·Wo values.</param>
    /// <param name="dx">One image, C·H·W values, accumulated into.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">k.</param>
    /// <param name="stride">s.</param>
    /// <param name="padding">p.</param>
    /// <param name="dilation">d.</param>
    public static void Col2Im(ReadOnlySpan<float> col, Span<float> dx, int channels, int height, int width, int kernel, int stride, int padding, int dilation)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, dilation), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, dilation);
        CheckLength(dx.Length, (long)channels * height * width, nameof(dx));
        CheckLength(col.Length, (long)channels * kernel * kernel * ho * wo, nameof(col));
        int row = 0;
        for (int c = 0; c < channels; c++)
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++, row++)
        {
            ReadOnlySpan<float> src = col.Slice(row * ho * wo, ho * wo);
            var (j0, j1) = ValidRange(wo, width, stride, v * dilation - padding);
            if (j0 >= j1) continue;
            for (int i = 0; i < ho; i++)
            {
                int r = i * stride - padding + u * dilation;
                if (r < 0 || r >= height) continue;
                Span<float> dst = dx.Slice((c * height + r) * width, width);
                ReadOnlySpan<float> line = src.Slice(i * wo, wo);
                int q0 = j0 * stride + v * dilation - padding;
                if (stride == 1)
                    AddInPlace(dst.Slice(q0, j1 - j0), line.Slice(j0, j1 - j0));
                else
                    for (int j = j0, q = q0; j < j1; j++, q += stride) dst[q] += line[j];
            }
        }
    }

    /// <summary>The output columns j in [j0, j1) whose tap j·stride + offset lies inside [0, width).</summary>
    static (int J0, int J1) ValidRange(int outWidth, int width, int stride, int offset)
    {
        int j0 = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int j1 = width - offset <= 0 ? 0 : Math.Min(outWidth, (width - offset - 1) / stride + 1);
        return (Math.Min(j0, outWidth), j1);
    }

    static bool IsPointwise(in Conv2dGeometry g) => g.Kernel == 1 && g.Stride == 1 && g.Padding == 0;

    /// <summary>The floats of workspace the convolution kernels need: one image's column matrix, C·k·k·Ho·Wo.</summary>
    /// <param name="g">The convolution.</param>
    /// <returns>The workspace length.</returns>
    public static int Conv2dWorkspace(Conv2dGeometry g) => g.Channels * g.Kernel * g.Kernel * g.OutHeight * g.OutWidth;

    /// <summary>
    /// y = conv2d(x, w) + b over a batch of NCHW images (see <see cref="Reference.Conv2d{T}"/>), by im2col and one
    /// GEMM per image and group.
    /// </summary>
    /// <param name="x">N·C·H·W inputs.</param>
    /// <param name="w">The weight, O × C/G × k × k.</param>
    /// <param name="bias">O values, or empty.</param>
    /// <param name="y">Receives N·O·Ho·Wo outputs.</param>
    /// <param name="workspace">At least <see cref="Conv2dWorkspace"/> floats of scratch.</param>
    /// <param name="g">The geometry.</param>
    public static void Conv2dForward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, Span<float> workspace, Conv2dGeometry g)
    {
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels, image = g.Channels * g.Height * g.Width;
        CheckConv(x.Length, w.Length, y.Length, workspace.Length, g);
        for (int n = 0; n < g.Batch; n++)
        {
            ReadOnlySpan<float> xn = x.Slice(n * image, image);
            ReadOnlySpan<float> col = xn;
            if (!IsPointwise(g))
            {
                Im2Col(xn, workspace, g.Channels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.Dilation);
                col = workspace;
            }
            Span<float> yn = y.Slice(n * g.OutChannels * hw, g.OutChannels * hw);
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.Sgemm(false, false, og, hw, kk, w.Slice(grp * og * kk, og * kk), kk, col.Slice(grp * kk * hw, kk * hw), hw,
                    yn.Slice(grp * og * hw, og * hw), hw);
            if (!bias.IsEmpty)
                for (int o = 0; o < g.OutChannels; o++) AddScalarInPlace(yn.Slice(o * hw, hw), bias[o]);
        }
    }

    /// <summary>dx = the gradient of <see cref="Conv2dForward"/> with respect to its input (overwritten).</summary>
    /// <param name="dy">N·O·Ho·Wo output gradients.</param>
    /// <param name="w">The weight, O × C/G × k × k.</param>
    /// <param name="dx">Receives N·C·H·W input gradients.</param>
    /// <param name="workspace">At least <see cref="Conv2dWorkspace"/> floats of scratch.</param>
    /// <param name="g">The geometry.</param>
    public static void Conv2dBackwardData(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, Span<float> dx, Span<float> workspace, Conv2dGeometry g)
    {
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels, image = g.Channels * g.Height * g.Width;
        CheckConv(dx.Length, w.Length, dy.Length, workspace.Length, g);
        for (int n = 0; n < g.Batch; n++)
        {
            Span<float> dxn = dx.Slice(n * image, image);
            bool direct = IsPointwise(g);
            Span<float> col = direct ? dxn : workspace;
            ReadOnlySpan<float> dyn = dy.Slice(n * g.OutChannels * hw, g.OutChannels * hw);
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.Sgemm(true, false, kk, hw, og, w.Slice(grp * og * kk, og * kk), kk, dyn.Slice(grp * og * hw, og * hw), hw,
                    col.Slice(grp * kk * hw, kk * hw), hw);
            if (!direct)
            {
                dxn.Clear();
                Col2Im(workspace, dxn, g.Channels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.Dilation);
            }
        }
    }

    /// <summary>dw = the gradient of <see cref="Conv2dForward"/> with respect to its weight, summed over the batch (overwritten).</summary>
    /// <param name="x">N·C·H·W inputs.</param>
    /// <param name="dy">N·O·Ho·Wo output gradients.</param>
    /// <param name="dw">Receives the O × C/G × k × k weight gradient.</param>
    /// <param name="workspace">At least <see cref="Conv2dWorkspace"/> floats of scratch.</param>
    /// <param name="g">The geometry.</param>
    public static void Conv2dBackwardWeight(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dw, Span<float> workspace, Conv2dGeometry g)
    {
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels, image = g.Channels * g.Height * g.Width;
        CheckConv(x.Length, dw.Length, dy.Length, workspace.Length, g);
        if (g.Batch == 0) dw.Slice(0, g.OutChannels * kk).Clear();
        for (int n = 0; n < g.Batch; n++)
        {
            ReadOnlySpan<float> xn = x.Slice(n * image, image);
            ReadOnlySpan<float> col = xn;
            if (!IsPointwise(g))
            {
                Im2Col(xn, workspace, g.Channels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.Dilation);
                col = workspace;
            }
            ReadOnlySpan<float> dyn = dy.Slice(n * g.OutChannels * hw, g.OutChannels * hw);
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.Sgemm(false, true, og, kk, hw, dyn.Slice(grp * og * hw, og * hw), hw, col.Slice(grp * kk * hw, kk * hw), hw,
                    dw.Slice(grp * og * kk, og * kk), kk, accumulate: n > 0);
        }
    }

    /// <summary>db[c] = Σ over the batch and the plane of dy[n, c, ·]: the gradient of a per-channel bias (overwritten).</summary>
    /// <param name="dy">batch·channels·size values.</param>
    /// <param name="db">Receives channels sums.</param>
    /// <param name="batch">N.</param>
    /// <param name="channels">C.</param>
    /// <param name="size">Values per plane (Ho·Wo).</param>
    public static void ChannelSum(ReadOnlySpan<float> dy, Span<float> db, int batch, int channels, int size)
    {
        CheckLength(dy.Length, (long)batch * channels * size, nameof(dy));
        CheckLength(db.Length, channels, nameof(db));
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < batch; n++) sum += SumFloat(dy.Slice((n * channels + c) * size, size));
            db[c] = (float)sum;
        }
    }

    static void CheckConv(int xLength, int wLength, int yLength, int workspaceLength, in Conv2dGeometry g)
    {
        if (g.Groups < 1 || g.Channels % g.Groups != 0 || g.OutChannels % g.Groups != 0 || g.Kernel < 1 || g.Stride < 1 || g.Padding < 0 || g.Dilation < 1
            || g.OutHeight < 1 || g.OutWidth < 1 || g.Batch < 0)
            throw new ArgumentException($"Invalid convolution geometry {g}.");
        CheckLength(xLength, (long)g.Batch * g.Channels * g.Height * g.Width, "x");
        CheckLength(wLength, (long)g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel, "w");
        CheckLength(yLength, (long)g.Batch * g.OutChannels * g.OutHeight * g.OutWidth, "y");
        if (!IsPointwise(g)) CheckLength(workspaceLength, Conv2dWorkspace(g), "workspace");
    }

    /// <summary>y += s elementwise.</summary>
    static void AddScalarInPlace(Span<float> y, float s)
    {
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = y.Length, i = 0;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512)
        {
            Vector512<float> vs = Vector512.Create(s);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref py, (nuint)i) + vs).StoreUnsafe(ref py, (nuint)i);
        }
        else if (level == SimdLevel.Avx2)
        {
            Vector256<float> vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref py, (nuint)i) + vs).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref py, i) += s;
    }

    // ---------------------------------------------------------------- pooling

    /// <summary>
    /// Max pooling of planes (H × W) with the position of each maximum kept for the backward pass: argmax holds the
    /// index within the plane (r·W + q) as a float, or −1 for a window entirely in the padding (its output is 0).
    /// Padding is never a value; ties go to the first tap in window order (as <see cref="Reference.MaxPool2d{T}"/>).
    /// </summary>
    /// <param name="x">planes·H·W inputs.</param>
    /// <param name="y">Receives planes·Ho·Wo maxima.</param>
    /// <param name="argmax">Receives planes·Ho·Wo positions.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void MaxPool2d(ReadOnlySpan<float> x, Span<float> y, Span<float> argmax, int planes, int height, int width, int kernel, int stride, int padding)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        CheckPool(x.Length, y.Length, planes, height, width, ho, wo);
        CheckLength(argmax.Length, (long)planes * ho * wo, nameof(argmax));
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<float> plane = x.Slice(p * height * width, height * width);
            int o = p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                int r0 = Math.Max(i * stride - padding, 0), r1 = Math.Min(i * stride - padding + kernel, height);
                for (int j = 0; j < wo; j++, o++)
                {
                    int q0 = Math.Max(j * stride - padding, 0), q1 = Math.Min(j * stride - padding + kernel, width);
                    int best = -1;
                    float max = 0f;
                    for (int r = r0; r < r1; r++)
                    for (int q = q0; q < q1; q++)
                    {
                        float v = plane[r * width + q];
                        if (best < 0 || v > max) { max = v; best = r * width + q; }
                    }
                    y[o] = max;
                    argmax[o] = best;
                }
            }
        }
    }

    /// <summary>dx = the gradient of <see cref="MaxPool2d"/>: each dy goes to the position argmax recorded (overwritten).</summary>
    /// <param name="argmax">planes·Ho·Wo positions from the forward pass.</param>
    /// <param name="dy">planes·Ho·Wo output gradients.</param>
    /// <param name="dx">Receives planes·H·W input gradients.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="outHeight">Ho.</param>
    /// <param name="outWidth">Wo.</param>
    public static void MaxPool2dBackward(ReadOnlySpan<float> argmax, ReadOnlySpan<float> dy, Span<float> dx, int planes, int height, int width, int outHeight, int outWidth)
    {
        CheckPool(dx.Length, dy.Length, planes, height, width, outHeight, outWidth);
        CheckLength(argmax.Length, (long)planes * outHeight * outWidth, nameof(argmax));
        int size = height * width, outSize = outHeight * outWidth;
        dx.Slice(0, planes * size).Clear();
        for (int p = 0; p < planes; p++)
        {
            Span<float> plane = dx.Slice(p * size, size);
            for (int o = p * outSize, end = o + outSize; o < end; o++)
            {
                int at = (int)argmax[o];
                if (at >= 0) plane[at] += dy[o];
            }
        }
    }

    /// <summary>Average pooling (padding counts as zeros: the divisor is always kernel², as <see cref="Reference.AvgPool2d{T}"/>).</summary>
    /// <param name="x">planes·H·W inputs.</param>
    /// <param name="y">Receives planes·Ho·Wo averages.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void AvgPool2d(ReadOnlySpan<float> x, Span<float> y, int planes, int height, int width, int kernel, int stride, int padding)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        CheckPool(x.Length, y.Length, planes, height, width, ho, wo);
        float scale = 1f / (kernel * kernel);
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<float> plane = x.Slice(p * height * width, height * width);
            int o = p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                int r0 = Math.Max(i * stride - padding, 0), r1 = Math.Min(i * stride - padding + kernel, height);
                for (int j = 0; j < wo; j++, o++)
                {
                    int q0 = Math.Max(j * stride - padding, 0), q1 = Math.Min(j * stride - padding + kernel, width);
                    float sum = 0f;
                    for (int r = r0; r < r1; r++)
                    for (int q = q0; q < q1; q++)
                        sum += plane[r * width + q];
                    y[o] = sum * scale;
                }
            }
        }
    }

    /// <summary>dx = the gradient of <see cref="AvgPool2d"/> (overwritten).</summary>
    /// <param name="dy">planes·Ho·Wo output gradients.</param>
    /// <param name="dx">Receives planes·H·W input gradients.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void AvgPool2dBackward(ReadOnlySpan<float> dy, Span<float> dx, int planes, int height, int width, int kernel, int stride, int padding)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        CheckPool(dx.Length, dy.Length, planes, height, width, ho, wo);
        float scale = 1f / (kernel * kernel);
        dx.Slice(0, planes * height * width).Clear();
        for (int p = 0; p < planes; p++)
        {
            Span<float> plane = dx.Slice(p * height * width, height * width);
            int o = p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                int r0 = Math.Max(i * stride - padding, 0), r1 = Math.Min(i * stride - padding + kernel, height);
                for (int j = 0; j < wo; j++, o++)
                {
                    int q0 = Math.Max(j * stride - padding, 0), q1 = Math.Min(j * stride - padding + kernel, width);
                    float d = dy[o] * scale;
                    for (int r = r0; r < r1; r++)
                    for (int q = q0; q < q1; q++)
                        plane[r * width + q] += d;
                }
            }
        }
    }

    /// <summary>y[p] = the mean of plane p: global average pooling, (N, C, H, W) → (N, C).</summary>
    /// <param name="x">planes·size inputs.</param>
    /// <param name="y">Receives planes means.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="size">H·W.</param>
    public static void GlobalAvgPool(ReadOnlySpan<float> x, Span<float> y, int planes, int size)
    {
        CheckLength(x.Length, (long)planes * size, nameof(x));
        CheckLength(y.Length, planes, nameof(y));
        for (int p = 0; p < planes; p++) y[p] = SumFloat(x.Slice(p * size, size)) / size;
    }

    /// <summary>dx[p, ·] = dy[p] / size: the gradient of <see cref="GlobalAvgPool"/>.</summary>
    /// <param name="dy">planes gradients.</param>
    /// <param name="dx">Receives planes·size values.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="size">H·W.</param>
    public static void GlobalAvgPoolBackward(ReadOnlySpan<float> dy, Span<float> dx, int planes, int size)
    {
        CheckLength(dx.Length, (long)planes * size, nameof(dx));
        CheckLength(dy.Length, planes, nameof(dy));
        for (int p = 0; p < planes; p++) dx.Slice(p * size, size).Fill(dy[p] / size);
    }

    static void CheckPool(int xLength, int yLength, int planes, int height, int width, int ho, int wo)
    {
        if (planes < 0 || height < 1 || width < 1 || ho < 1 || wo < 1)
            throw new ArgumentException($"Invalid pooling geometry (planes={planes}, {height}x{width} → {ho}x{wo}).");
        CheckLength(xLength, (long)planes * height * width, "x");
        CheckLength(yLength, (long)planes * ho * wo, "y");
    }

    // ---------------------------------------------------------------- layout

    /// <summary>y = x with its axes permuted (y's axis i is x's axis perm[i]); rows along x's last kept-contiguous run are copied whole.</summary>
    /// <param name="x">The input, row-major of shape <paramref name="shape"/>.</param>
    /// <param name="shape">x's dimensions (rank ≤ 8).</param>
    /// <param name="perm">The permutation.</param>
    /// <param name="y">Receives the permuted tensor.</param>
    public static void Permute(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, ReadOnlySpan<int> perm, Span<float> y)
    {
        int rank = shape.Length;
        if (perm.Length != rank || rank > 8) throw new ArgumentException("Permute: the permutation must match the shape's rank (at most 8).");
        Span<int> strides = stackalloc int[rank];
        long total = 1;
        for (int i = rank - 1; i >= 0; i--) { strides[i] = (int)total; total *= shape[i]; }
        CheckLength(x.Length, total, nameof(x));
        CheckLength(y.Length, total, nameof(y));
        if (total == 0) return;
        // y is walked in order; the innermost y axis is a strided run of x.
        int last = shape[perm[rank - 1]], lastStride = strides[perm[rank - 1]];
        Span<int> index = stackalloc int[rank];
        int source = 0;
        for (int flat = 0; flat < total; flat += last)
        {
            Span<float> dst = y.Slice(flat, last);
            if (lastStride == 1) x.Slice(source, last).CopyTo(dst);
            else for (int t = 0, s = source; t < last; t++, s += lastStride) dst[t] = x[s];
            for (int i = rank - 2; i >= 0; i--)
            {
                int a = perm[i];
                source += strides[a];
                if (++index[i] < shape[a]) break;
                source -= strides[a] * shape[a];
                index[i] = 0;
            }
        }
    }

    /// <summary>Concatenation of a (outer, na, inner) and b (outer, nb, inner) into y (outer, na + nb, inner).</summary>
    /// <param name="a">The first operand.</param>
    /// <param name="b">The second operand.</param>
    /// <param name="y">Receives the concatenation.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="na">a's length along the axis.</param>
    /// <param name="nb">b's length along the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Concat(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int outer, int na, int nb, int inner)
    {
        CheckLength(a.Length, (long)outer * na * inner, nameof(a));
        CheckLength(b.Length, (long)outer * nb * inner, nameof(b));
        CheckLength(y.Length, (long)outer * (na + nb) * inner, nameof(y));
        Reference.Concat<float>(a, b, y, outer, na, nb, inner);
    }

    /// <summary>y = x[:, start : start + length, :] of the (outer × axis × inner) view.</summary>
    /// <param name="x">The input.</param>
    /// <param name="y">Receives outer·length·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">x's length along the axis.</param>
    /// <param name="start">The first index taken.</param>
    /// <param name="length">How many indices are taken.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Slice(ReadOnlySpan<float> x, Span<float> y, int outer, int axis, int start, int length, int inner)
    {
        if (start < 0 || length < 0 || start + length > axis) throw new ArgumentException($"Slice [{start}, {start + length}) is outside an axis of {axis}.");
        CheckLength(x.Length, (long)outer * axis * inner, nameof(x));
        CheckLength(y.Length, (long)outer * length * inner, nameof(y));
        Reference.Slice<float>(x, y, outer, axis, start, length, inner);
    }

    /// <summary>dx = dy placed at its window of the axis, zeros elsewhere: the gradient of <see cref="Slice"/> (overwritten).</summary>
    /// <param name="dy">outer·length·inner gradients.</param>
    /// <param name="dx">Receives outer·axis·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">dx's length along the axis.</param>
    /// <param name="start">The first index of the window.</param>
    /// <param name="length">The window's length.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void SliceBackward(ReadOnlySpan<float> dy, Span<float> dx, int outer, int axis, int start, int length, int inner)
    {
        if (start < 0 || length < 0 || start + length > axis) throw new ArgumentException($"Slice [{start}, {start + length}) is outside an axis of {axis}.");
        CheckLength(dx.Length, (long)outer * axis * inner, nameof(dx));
        CheckLength(dy.Length, (long)outer * length * inner, nameof(dy));
        Reference.SliceBackward<float>(dy, dx.Slice(0, outer * axis * inner), outer, axis, start, length, inner);
    }
}
