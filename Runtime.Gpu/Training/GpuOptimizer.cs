using System;
using System.Collections.Generic;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

/// <summary>
/// Runs an <see cref="Optimizer"/>'s step on a <see cref="GpuDevice"/>: the parameters, gradients and the optimizer's
/// state buffers all stay in device memory, and each <see cref="Step"/> queues at most three kernels (the gradient
/// norm's two reduction passes when <see cref="Optimizer.ClipGradientNorm"/> is set, then the update) without
/// waiting for the device or allocating anything. The update uses the CPU optimizer's formulas element for element
/// (<see cref="Sgd"/>, <see cref="Adam"/>, <see cref="AdamW"/>, <see cref="RMSprop"/>: PyTorch's semantics); the host
/// computes the step's scalars (the learning rate from <see cref="Optimizer.CurrentLearningRate"/>, Adam's bias
/// corrections from <see cref="Optimizer.StepCount"/>) as the CPU optimizer does, and counts the step on the optimizer.
/// </summary>
/// <remarks>
/// The device state buffers are named as the optimizer's state (for example <c>m</c> and <c>v</c> for Adam):
/// <see cref="Download"/> copies them into the optimizer's host buffers so that a checkpoint written with the optimizer
/// holds them, and <see cref="Upload"/> copies the host buffers (a resumed optimizer's) to the device. Clipping reduces
/// the global L2 norm on the device (in double, deterministically) and keeps it there; <see cref="LastGradientNorm"/>
/// reads it only when asked. As on the CPU, clipping scales the gradients in place.
/// </remarks>
public sealed class GpuOptimizer : IDisposable
{
    enum Kind { Sgd, Adam, AdamW, RMSprop }

    readonly GpuDevice _device;
    readonly Optimizer _optimizer;
    readonly int _length;
    readonly Kind _kind;
    readonly string[] _names;
    readonly MemoryBuffer1D<float, Stride1D.Dense>[] _state;
    readonly MemoryBuffer1D<double, Stride1D.Dense> _partials;
    readonly MemoryBuffer1D<double, Stride1D.Dense> _norm;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _coefficient;
    readonly OptimizerKernels _kernels;
    readonly int _normGroups;
    readonly double[] _normHost = new double[1];
    readonly ArrayView<float> _s0, _s1, _s2;
    bool _hasNorm;
    bool _disposed;

    /// <summary>
    /// Prepares <paramref name="optimizer"/>'s step on <paramref name="device"/> for the first
    /// <paramref name="trainableLength"/> floats of the parameter and gradient arenas: allocates the device state
    /// buffers and fills them from the optimizer's host state where it has some (a resumed optimizer), else with zeros.
    /// </summary>
    /// <param name="device">The device that holds the parameters and runs the update.</param>
    /// <param name="optimizer">The optimizer whose configuration, schedule, clipping and step count drive the update.</param>
    /// <param name="trainableLength">The number of trained floats (<see cref="ParameterStore.TrainableLength"/>).</param>
    /// <exception cref="NotSupportedException">The optimizer is not one of <see cref="Sgd"/>, <see cref="Adam"/>, <see cref="AdamW"/>, <see cref="RMSprop"/>.</exception>
    public GpuOptimizer(GpuDevice device, Optimizer optimizer, int trainableLength)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (trainableLength < 0) throw new ArgumentOutOfRangeException(nameof(trainableLength), $"The trainable length must be non-negative, not {trainableLength}.");
        _kind = optimizer switch
        {
            Sgd => Kind.Sgd,
            Adam => Kind.Adam,
            AdamW => Kind.AdamW,
            RMSprop => Kind.RMSprop,
            _ => throw new NotSupportedException(
                $"The GPU has no update for the optimizer {optimizer.GetType().FullName}; the supported optimizers are Sgd, Adam, AdamW and RMSprop."),
        };
        _device = device;
        _optimizer = optimizer;
        _length = trainableLength;
        var names = optimizer.DeviceStateNames();
        _names = new string[names.Count];
        for (int i = 0; i < _names.Length; i++) _names[i] = names[i];
        _kernels = device.Kernels(a => new OptimizerKernels(a));
        _normGroups = (int)Math.Clamp(((long)trainableLength + _kernels.GroupSize - 1) / _kernels.GroupSize, 1, _kernels.MaxNormGroups);
        _state = new MemoryBuffer1D<float, Stride1D.Dense>[_names.Length];
        try
        {
            for (int i = 0; i < _names.Length; i++)
                _state[i] = device.Allocate<float>(trainableLength, $"the {optimizer.GetType().Name} state '{_names[i]}'");
            _partials = device.Allocate<double>(_normGroups, "the gradient norm's partial sums");
            _norm = device.Allocate<double>(1, "the gradient norm");
            _coefficient = device.Allocate<float>(1, "the clipping factor");
        }
        catch
        {
            foreach (var b in _state) b?.Dispose();
            _partials?.Dispose();
            _norm?.Dispose();
            throw;
        }
        // The kernels' state operands by role: Sgd's momentum; Adam's m and v; RMSprop's square, mean and momentum.
        (_s0, _s1, _s2) = _kind switch
        {
            Kind.Sgd => (View("momentum_buffer"), default(ArrayView<float>), default(ArrayView<float>)),
            Kind.RMSprop => (View("square_avg"), View("grad_avg"), View("momentum_buffer")),
            _ => (View("m"), View("v"), default(ArrayView<float>)),
        };
        Upload();
    }

    /// <summary>The optimizer whose step this runs.</summary>
    public Optimizer Optimizer => _optimizer;

    /// <summary>The names of the device state buffers (the optimizer's state names, in its order).</summary>
    public IReadOnlyList<string> StateNames => _names;

    /// <summary>
    /// Queues one optimizer step on the device over the first trainable floats of <paramref name="values"/> from those of
    /// <paramref name="gradients"/>: clips the gradients by their global norm when <see cref="Optimizer.ClipGradientNorm"/>
    /// is set, updates the values and the state with the optimizer's formulas, then counts the step on the optimizer
    /// (<see cref="Optimizer.StepCount"/>, as <see cref="Optimizer.Step"/> does). Neither waits nor allocates.
    /// </summary>
    /// <param name="values">The parameter arena on the device.</param>
    /// <param name="gradients">The gradient arena on the device (scaled in place when clipping applies).</param>
    public void Step(ArrayView<float> values, ArrayView<float> gradients)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (values.Length < _length)
            throw new ArgumentException($"GpuOptimizer.Step: values has {values.Length} floats but the optimizer trains {_length}.", nameof(values));
        if (gradients.Length < _length)
            throw new ArgumentException($"GpuOptimizer.Step: gradients has {gradients.Length} floats but the optimizer trains {_length}.", nameof(gradients));
        bool clip = _optimizer.ClipNorm is float;
        if (_length > 0)
        {
            var stream = _device.Stream;
            var g = gradients.SubView(0, _length);
            if (_optimizer.ClipNorm is float maxNorm)
            {
                int gs = _kernels.GroupSize;
                _kernels.NormPartials(stream, new KernelConfig(new Index1D(_normGroups), new Index1D(gs), SharedMemoryConfig.RequestDynamic<double>(gs)),
                    new NormArgs { Gradients = g, Partials = _partials.View, Norm = _norm.View, Coefficient = _coefficient.View, Length = _length, Count = _normGroups });
                _kernels.NormFinal(stream, new KernelConfig(new Index1D(1), new Index1D(gs), SharedMemoryConfig.RequestDynamic<double>(gs)),
                    new NormArgs { Gradients = g, Partials = _partials.View, Norm = _norm.View, Coefficient = _coefficient.View, Length = _length, Count = _normGroups, MaxNorm = maxNorm });
            }
            var a = new UpdateArgs
            {
                P = values.SubView(0, _length), G = g, Coefficient = _coefficient.View, Clip = clip ? 1 : 0,
                S0 = _s0, S1 = _s1, S2 = _s2,
            };
            float lr = _optimizer.CurrentRate;
            // The optimizers keep their hyperparameters as floats and give them back as doubles: casting back is exact.
            switch (_kind)
            {
                case Kind.Sgd:
                {
                    var o = (Sgd)_optimizer;
                    a.Lr = lr; a.Momentum = (float)o.Momentum; a.WeightDecay = (float)o.WeightDecay;
                    a.HasMomentum = o.Momentum != 0 ? 1 : 0; a.Nesterov = o.Nesterov ? 1 : 0;
                    _kernels.Sgd(stream, _length, a);
                    break;
                }
                case Kind.Adam:
                {
                    var o = (Adam)_optimizer;
                    AdamScalars(ref a, lr, o.Settings, coupled: true);
                    _kernels.Adam(stream, _length, a);
                    break;
                }
                case Kind.AdamW:
                {
                    var o = (AdamW)_optimizer;
                    AdamScalars(ref a, lr, o.Settings, coupled: false);
                    _kernels.AdamW(stream, _length, a);
                    break;
                }
                default:
                {
                    var o = (RMSprop)_optimizer;
                    float alpha = (float)o.Alpha;
                    a.Lr = lr; a.Alpha = alpha; a.C = 1 - alpha; a.Eps = (float)o.Epsilon; a.WeightDecay = (float)o.WeightDecay; a.Momentum = (float)o.Momentum;
                    a.HasMomentum = o.Momentum != 0 ? 1 : 0; a.Centered = o.Centered ? 1 : 0;
                    _kernels.RMSprop(stream, _length, a);
                    break;
                }
            }
        }
        if (clip) _hasNorm = true;
        _optimizer.CountExternalStep();
    }

    // AdamCore.Step's scalars, computed the same way: t = StepCount + 1, the learning rate in double.
    void AdamScalars(ref UpdateArgs a, double lr, AdamCore.Hyperparameters h, bool coupled)
    {
        (float beta1, float beta2, float epsilon, float weightDecay) = h;
        int t = _optimizer.StepCount + 1;
        a.Decay = coupled ? weightDecay : (float)(1.0 - lr * weightDecay);
        a.StepSize = (float)(lr / (1.0 - Math.Pow(beta1, t)));
        a.InvSqrtBc2 = (float)(1.0 / Math.Sqrt(1.0 - Math.Pow(beta2, t)));
        a.B1 = beta1; a.B2 = beta2; a.C1 = 1 - beta1; a.C2 = 1 - beta2; a.Eps = epsilon;
    }

    // The device state named <paramref name="name"/>, or an empty view when the optimizer keeps no such state.
    ArrayView<float> View(string name)
    {
        for (int i = 0; i < _names.Length; i++)
            if (_names[i] == name && _length > 0) return _state[i].View.SubView(0, _length);
        return default;
    }

    /// <summary>
    /// Waits for the device and copies every device state buffer into the optimizer's host buffer of the same name,
    /// allocating the host buffer where the optimizer has none yet, so that a checkpoint saved with the optimizer holds
    /// the device's state.
    /// </summary>
    public void Download()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _device.Synchronize();
        for (int i = 0; i < _names.Length; i++)
        {
            var host = _optimizer.DeviceStateBuffer(_names[i]);
            if (host == null || host.Length != _length)
            {
                host = new float[_length];
                _optimizer.SetDeviceStateBuffer(_names[i], host);
            }
            if (_length > 0) _state[i].View.SubView(0, _length).CopyToCPU(_device.Stream, host);
        }
        _device.Synchronize();
        _optimizer.SetDeviceGradientNorm(LastGradientNorm());
    }

    /// <summary>
    /// Copies the optimizer's host state buffers to the device (zeros for a buffer the optimizer has not allocated),
    /// for example after a checkpoint was loaded into the optimizer.
    /// </summary>
    /// <exception cref="InvalidOperationException">A host buffer's length is not the trainable length.</exception>
    public void Upload()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < _names.Length; i++)
        {
            var host = _optimizer.DeviceStateBuffer(_names[i]);
            if (host != null && host.Length != _length)
                throw new InvalidOperationException($"The {_optimizer.GetType().Name} state '{_names[i]}' has {host.Length} floats but the GPU optimizer trains {_length}.");
            if (_length == 0) continue;
            var view = _state[i].View.SubView(0, _length);
            if (host == null) view.MemSetToZero(_device.Stream);
            else view.CopyFromCPU(_device.Stream, host);
        }
        _device.Synchronize();
    }

    /// <summary>
    /// The global L2 norm of the gradients before clipping, measured on the device by the last <see cref="Step"/> taken
    /// while <see cref="Optimizer.ClipGradientNorm"/> was set (waits for the device); null before such a step.
    /// </summary>
    public double? LastGradientNorm()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_hasNorm) return null;
        _device.Synchronize();
        _norm.View.SubView(0, 1).CopyToCPU(_device.Stream, _normHost);
        _device.Synchronize();
        return _normHost[0];
    }

    /// <summary>Releases the device state buffers (the optimizer's host state is left as it is).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var b in _state) b.Dispose();
        _partials.Dispose();
        _norm.Dispose();
        _coefficient.Dispose();
    }
}

/// <summary>The operands of the update kernels (the views and scalars an optimizer does not use stay empty or zero).</summary>
internal struct UpdateArgs
{
    public ArrayView<float> P, G, S0, S1, S2, Coefficient;
    public float Lr, Momentum, WeightDecay, B1, B2, C1, C2, StepSize, InvSqrtBc2, Eps, Decay, Alpha, C;
    public int Clip, Nesterov, HasMomentum, Centered;
}

/// <summary>The operands of the gradient-norm kernels.</summary>
internal struct NormArgs
{
    public ArrayView<float> Gradients, Coefficient;
    public ArrayView<double> Partials, Norm;
    public int Length, Count;
    public float MaxNorm;
}

/// <summary>
/// The optimizer kernels of one device: the updates (one thread per element, the CPU loops' scalar arithmetic, no
/// fused multiply-add written) and the clipping norm (a grid-stride sum of squares in double per group, reduced in
/// shared memory, then one group adds the partial sums in a fixed order: deterministic).
/// </summary>
sealed class OptimizerKernels
{
    /// <summary>
    /// The most groups of the norm's first pass (its partial sums): enough to fill a GPU; few on ILGPU's CPU accelerator,
    /// where each group's barriers synchronize operating-system threads.
    /// </summary>
    public readonly int MaxNormGroups;

    /// <summary>Threads per group of the norm kernels (a power of two).</summary>
    public readonly int GroupSize;

    public readonly Action<AcceleratorStream, Index1D, UpdateArgs> Sgd, Adam, AdamW, RMSprop;
    public readonly Action<AcceleratorStream, KernelConfig, NormArgs> NormPartials, NormFinal;

    public OptimizerKernels(Accelerator a)
    {
        int group = 1;
        while (group * 2 <= Math.Min(256, a.MaxNumThreadsPerGroup)) group *= 2;
        GroupSize = group;
        MaxNormGroups = a.AcceleratorType == AcceleratorType.CPU ? 16 : 1024;
        Sgd = a.LoadAutoGroupedKernel<Index1D, UpdateArgs>(SgdKernel);
        Adam = a.LoadAutoGroupedKernel<Index1D, UpdateArgs>(AdamKernel);
        AdamW = a.LoadAutoGroupedKernel<Index1D, UpdateArgs>(AdamWKernel);
        RMSprop = a.LoadAutoGroupedKernel<Index1D, UpdateArgs>(RMSpropKernel);
        NormPartials = a.LoadKernel<NormArgs>(NormPartialsKernel);
        NormFinal = a.LoadKernel<NormArgs>(NormFinalKernel);
    }

    /// <summary>The gradient, scaled (and written back, as the CPU scales in place) when the clipping factor is below 1 or NaN.</summary>
    static float Gradient(UpdateArgs a, int i)
    {
        float g = a.G[i];
        if (a.Clip != 0)
        {
            float coef = a.Coefficient[0];
            if (!(coef >= 1f))
            {
                g *= coef;
                a.G[i] = g;
            }
        }
        return g;
    }

    static void SgdKernel(Index1D i, UpdateArgs a)
    {
        float pv = a.P[i];
        float gv = Gradient(a, i) + a.WeightDecay * pv;
        if (a.HasMomentum != 0)
        {
            float bv = a.Momentum * a.S0[i] + gv;
            a.S0[i] = bv;
            gv = a.Nesterov != 0 ? gv + a.Momentum * bv : bv;
        }
        a.P[i] = pv - a.Lr * gv;
    }

    static void AdamKernel(Index1D i, UpdateArgs a)
    {
        float pv = a.P[i];
        float gv = Gradient(a, i) + a.Decay * pv;
        float mv = a.B1 * a.S0[i] + a.C1 * gv;
        float vv = a.B2 * a.S1[i] + a.C2 * (gv * gv);
        a.S0[i] = mv;
        a.S1[i] = vv;
        a.P[i] = pv - a.StepSize * mv / (MathF.Sqrt(vv) * a.InvSqrtBc2 + a.Eps);
    }

    static void AdamWKernel(Index1D i, UpdateArgs a)
    {
        float pv = a.P[i] * a.Decay;
        float gv = Gradient(a, i);
        float mv = a.B1 * a.S0[i] + a.C1 * gv;
        float vv = a.B2 * a.S1[i] + a.C2 * (gv * gv);
        a.S0[i] = mv;
        a.S1[i] = vv;
        a.P[i] = pv - a.StepSize * mv / (MathF.Sqrt(vv) * a.InvSqrtBc2 + a.Eps);
    }

    static void RMSpropKernel(Index1D i, UpdateArgs a)
    {
        float pv = a.P[i];
        float gv = Gradient(a, i) + a.WeightDecay * pv;
        float sv = a.Alpha * a.S0[i] + a.C * (gv * gv);
        a.S0[i] = sv;
        float d;
        if (a.Centered != 0)
        {
            float av = a.Alpha * a.S1[i] + a.C * gv;
            a.S1[i] = av;
            d = MathF.Sqrt(sv - av * av) + a.Eps;
        }
        else d = MathF.Sqrt(sv) + a.Eps;
        float u = gv / d;
        if (a.HasMomentum != 0)
        {
            u = a.Momentum * a.S2[i] + u;
            a.S2[i] = u;
        }
        a.P[i] = pv - a.Lr * u;
    }

    // Pass 1: group k sums the squares (in double) of the elements k·G + l, k·G + l + stride, ... (l the thread, stride
    // the grid's thread count), then reduces its threads' sums pairwise in shared memory.
    static void NormPartialsKernel(NormArgs a)
    {
        var shared = SharedMemory.GetDynamic<double>();
        int tid = Group.IdxX, threads = Group.DimX, stride = Grid.DimX * threads;
        double s = 0;
        for (int i = Grid.IdxX * threads + tid; i < a.Length; i += stride)
        {
            double g = a.Gradients[i];
            s += g * g;
        }
        shared[tid] = s;
        Group.Barrier();
        for (int half = threads / 2; half > 0; half /= 2)
        {
            if (tid < half) shared[tid] += shared[tid + half];
            Group.Barrier();
        }
        if (tid == 0) a.Partials[Grid.IdxX] = shared[0];
    }

    // Pass 2 (one group): the partial sums reduced in a fixed order; the norm and min(1, max/(norm + 1e-6)) as the CPU
    // computes them (the factor in float, the comparison with 1 left to the update).
    static void NormFinalKernel(NormArgs a)
    {
        var shared = SharedMemory.GetDynamic<double>();
        int tid = Group.IdxX, threads = Group.DimX;
        double s = 0;
        for (int i = tid; i < a.Count; i += threads) s += a.Partials[i];
        shared[tid] = s;
        Group.Barrier();
        for (int half = threads / 2; half > 0; half /= 2)
        {
            if (tid < half) shared[tid] += shared[tid + half];
            Group.Barrier();
        }
        if (tid == 0)
        {
            double norm = Math.Sqrt(shared[0]);
            a.Norm[0] = norm;
            a.Coefficient[0] = (float)(a.MaxNorm / (norm + 1e-6));
        }
    }
}
