using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen;

/// <summary>
/// Updates a model's parameters from their gradients. An optimizer works on the two flat arenas of a
/// <see cref="ParameterStore"/> (<see cref="ParameterStore.Values"/> and <see cref="ParameterStore.Gradients"/>)
/// with SIMD loops; its state (momentum, moments) is allocated on the first <see cref="Step"/>, sized to the arena,
/// and every later step allocates nothing. An optimizer instance belongs to one parameter store.
/// </summary>
/// <remarks>
/// <see cref="Step"/> is a template method: it binds the store, applies <see cref="ClipGradientNorm"/> when set, lets the
/// concrete optimizer update the parameters (<see cref="Update"/>), then counts the step. Every optimizer therefore
/// gets clipping and schedules the same way.
/// </remarks>
public abstract class Optimizer
{
    ParameterStore? _owner;
    float? _clipGradientNorm;
    float _learningRate;

    /// <summary>Sets the learning rate.</summary>
    protected Optimizer(double learningRate) => _learningRate = CheckLearningRate(learningRate, nameof(learningRate));

    static float CheckLearningRate(double value, string name) =>
        ToFloat(value) is float f && f >= 0 && !float.IsInfinity(f) ? f
            : throw new ArgumentOutOfRangeException(name, $"The learning rate must be finite and non-negative, not {value}.");

    /// <summary>
    /// A hyperparameter as the update loops use it: hyperparameters are typed <c>double</c> at the API (so that
    /// <c>1e-3</c> and <c>1e-3f</c> both compile) and rounded to float once, here; the getters give that float back as a
    /// double, so <c>new AdamW(1e-3)</c> and <c>new AdamW(1e-3f)</c> train bit for bit alike.
    /// </summary>
    internal static float ToFloat(double value) => (float)value;

    /// <summary>
    /// The step size; may be changed between steps (learning-rate schedules). Finite and non-negative, as in the
    /// constructor. Kept as a float: the getter returns the float the updates use.
    /// </summary>
    public double LearningRate
    {
        get => _learningRate;
        set => _learningRate = CheckLearningRate(value, nameof(value));
    }

    /// <summary>
    /// Scales <see cref="LearningRate"/> step by step (for example <see cref="CosineDecay"/>); null keeps it constant.
    /// Step <c>t</c> (counting from 0) uses <c>LearningRate * Schedule.Factor(t)</c>.
    /// </summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>
    /// The learning rate of the step about to be taken: <see cref="LearningRate"/> scaled by the schedule. A schedule
    /// factor that is negative or not finite (a custom <see cref="LearningRateSchedule"/>) throws, naming it and the step.
    /// </summary>
    public double CurrentLearningRate => CurrentRate;

    /// <summary><see cref="CurrentLearningRate"/> as the float the update loops use (the product is taken in float).</summary>
    internal float CurrentRate
    {
        get
        {
            if (Schedule == null) return _learningRate;
            float factor = Schedule.Factor(StepCount);
            if (!(factor >= 0) || float.IsInfinity(factor))
                throw new InvalidOperationException(
                    $"The learning-rate schedule {Schedule.GetType().Name} gave the factor {factor} for step {StepCount}; a factor must be finite and non-negative.");
            return _learningRate * factor;
        }
    }

    /// <summary>The number of steps taken so far.</summary>
    public int StepCount { get; protected set; }

    /// <summary>
    /// Clipping by global norm, as PyTorch's <c>clip_grad_norm_</c> (L2 norm, <c>error_if_nonfinite=False</c>): null
    /// (the default) turns it off; otherwise each <see cref="Step"/> first computes the L2 norm of the whole gradient
    /// arena (in double) and multiplies every gradient by <c>min(1, maxNorm / (norm + 1e-6))</c>, in place, before the
    /// update. A non-finite norm makes the factor NaN or 0, as in PyTorch. Must be positive and finite (as a float,
    /// which is what is kept).
    /// </summary>
    public double? ClipGradientNorm
    {
        get => _clipGradientNorm;
        set
        {
            float? f = value is double d ? ToFloat(d) : null;
            if (f is float v && (!(v > 0) || float.IsInfinity(v)))
                throw new ArgumentOutOfRangeException(nameof(value), $"The clipping norm must be positive and finite, not {value}.");
            _clipGradientNorm = f;
        }
    }

    /// <summary><see cref="ClipGradientNorm"/> as the float it is kept as (null: off).</summary>
    internal float? ClipNorm => _clipGradientNorm;

    /// <summary>
    /// The global L2 norm of the gradients before clipping, measured by the last <see cref="Step"/> taken while
    /// <see cref="ClipGradientNorm"/> was set (the value PyTorch's <c>clip_grad_norm_</c> returns); null before that.
    /// </summary>
    public double? LastGradientNorm { get; private set; }

    /// <summary>
    /// Applies one update to every parameter of <paramref name="parameters"/> from its current gradient: clips the
    /// gradients when <see cref="ClipGradientNorm"/> is set, calls <see cref="Update"/>, then increments <see cref="StepCount"/>.
    /// </summary>
    public void Step(ParameterStore parameters) => StepCore(parameters, skipNonFinite: false);

    /// <summary>
    /// <see cref="Step"/>; with <paramref name="skipNonFinite"/> (<c>Fit</c>'s check), a non-finite
    /// gradient norm measured for clipping leaves the parameters, the state and <see cref="StepCount"/> as they were and
    /// returns false (the norm is still recorded in <see cref="LastGradientNorm"/>).
    /// </summary>
    internal bool StepCore(ParameterStore parameters, bool skipNonFinite)
    {
        Bind(parameters);
        if (_clipGradientNorm is float maxNorm)
        {
            var gradients = parameters.TrainableGradients;
            double norm = GlobalNorm(gradients);
            LastGradientNorm = norm;
            if (skipNonFinite && !double.IsFinite(norm)) return false;
            Clip(gradients, norm, maxNorm);
        }
        Update(parameters);
        StepCount++;
        return true;
    }

    /// <summary>
    /// The optimizer's own update of <see cref="ParameterStore.Values"/> from <see cref="ParameterStore.Gradients"/>
    /// (already clipped), at <see cref="CurrentLearningRate"/>; <see cref="StepCount"/> is the number of earlier steps.
    /// Allocates its state on the first call and nothing after.
    /// </summary>
    protected abstract void Update(ParameterStore parameters);

    // ---- state export and import (resumable checkpoints) --------------------------------------------------------

    /// <summary>
    /// The names of this optimizer's per-parameter state buffers under its configuration (for example <c>m</c> and
    /// <c>v</c> for Adam); each buffer is a flat float array of <see cref="ParameterStore.TrainableLength"/>. Empty (the
    /// default) for a stateless optimizer. A checkpoint stores buffer <c>x</c> as the tensor <c>optimizer.x</c>.
    /// </summary>
    protected virtual IReadOnlyList<string> StateNames => Array.Empty<string>();

    /// <summary>The state buffer names, for a device optimizer (the GPU backend) that keeps the state on its device.</summary>
    internal IReadOnlyList<string> DeviceStateNames() => StateNames;

    /// <summary>A state buffer, for a device optimizer that copies it to or from its device.</summary>
    internal float[]? DeviceStateBuffer(string name) => GetStateBuffer(name);

    /// <summary>Replaces a state buffer with what a device optimizer downloaded.</summary>
    internal void SetDeviceStateBuffer(string name, float[] values) => SetStateBuffer(name, values);

    /// <summary>Counts a step that a device optimizer took on its device with this optimizer's rule.</summary>
    internal void CountExternalStep() => StepCount++;

    /// <summary>Records the gradient norm a device optimizer measured (read back when its state comes to the host).</summary>
    internal void SetDeviceGradientNorm(double? norm)
    {
        if (norm != null) LastGradientNorm = norm;
    }

    /// <summary>The state buffer <paramref name="name"/> (one of <see cref="StateNames"/>), or null while not allocated (it then counts as zeros).</summary>
    protected virtual float[]? GetStateBuffer(string name) => null;

    /// <summary>Replaces the state buffer <paramref name="name"/> (one of <see cref="StateNames"/>) with <paramref name="values"/>, which the optimizer then owns.</summary>
    protected virtual void SetStateBuffer(string name, float[] values) { }

    /// <summary>
    /// Adds this optimizer's hyperparameters (everything but the learning rate that shapes its update) to
    /// <paramref name="into"/> as invariant strings; a checkpoint's optimizer must match them to be loaded.
    /// </summary>
    protected virtual void AddHyperparameters(IDictionary<string, string> into) { }

    /// <summary>The tensor-name prefix reserved for optimizer state in checkpoints.</summary>
    internal const string StatePrefix = "optimizer.";

    /// <summary>The metadata key prefix of the optimizer's scalars.</summary>
    internal const string MetadataPrefix = "modelgen.optimizer";

    /// <summary>A float as the shortest invariant string that reads back to the same bits.</summary>
    internal static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The configuration that must match for a checkpoint's state to apply: type, hyperparameters, clipping, schedule.</summary>
    internal SortedDictionary<string, string> Configuration()
    {
        var hp = new SortedDictionary<string, string>(StringComparer.Ordinal);
        AddHyperparameters(hp);
        var config = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in hp) config[MetadataPrefix + ".hp." + pair.Key] = pair.Value;
        config[MetadataPrefix + ".clip_gradient_norm"] = _clipGradientNorm is float c ? Format(c) : "none";
        config[MetadataPrefix + ".schedule"] = Schedule?.Describe() ?? "none";
        return config;
    }

    /// <summary>The metadata a checkpoint holds for this optimizer: type, step count, learning rate and <see cref="Configuration"/>.</summary>
    internal Dictionary<string, string> ExportMetadata()
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [MetadataPrefix] = GetType().Name,
            [MetadataPrefix + ".step"] = StepCount.ToString(CultureInfo.InvariantCulture),
            [MetadataPrefix + ".learning_rate"] = Format(_learningRate),
            [MetadataPrefix + ".state"] = string.Join(",", StateNames),
        };
        foreach (var pair in Configuration()) meta[pair.Key] = pair.Value;
        return meta;
    }

    /// <summary>
    /// The state tensors to write for <paramref name="store"/>: every buffer of <see cref="StateNames"/> (zeros while not
    /// allocated). Throws when this optimizer already belongs to another store.
    /// </summary>
    internal List<(string Name, float[] Values)> ExportState(ParameterStore store)
    {
        if (_owner != null && !ReferenceEquals(_owner, store))
            throw new InvalidOperationException($"This {GetType().Name} holds state for another model's parameters, not this model's.");
        var list = new List<(string, float[])>();
        foreach (string name in StateNames)
        {
            var buffer = GetStateBuffer(name);
            if (buffer != null && buffer.Length != store.TrainableLength)
                throw new InvalidOperationException($"The {GetType().Name} state '{name}' has {buffer.Length} floats but the model trains {store.TrainableLength}.");
            list.Add((StatePrefix + name, buffer ?? new float[store.TrainableLength]));
        }
        return list;
    }

    /// <summary>
    /// Lists every reason why <paramref name="meta"/> (a checkpoint's metadata) cannot be restored into this optimizer
    /// for <paramref name="store"/>: no optimizer state, another type, other hyperparameters, a bad step count or
    /// learning rate, or this optimizer bound to another model.
    /// </summary>
    internal List<string> CheckImport(IReadOnlyDictionary<string, string> meta, ParameterStore store, out int step, out float learningRate)
    {
        var problems = new List<string>();
        step = 0;
        learningRate = 0;
        if (_owner != null && !ReferenceEquals(_owner, store))
            problems.Add($"the given {GetType().Name} already holds state for another model's parameters.");
        if (!meta.TryGetValue(MetadataPrefix, out string? type))
        {
            problems.Add("the file holds no optimizer state (it was written by Save(path) without an optimizer); load it with Load(path).");
            return problems;
        }
        if (type != GetType().Name)
        {
            problems.Add($"the file holds the state of a {type} optimizer but the given optimizer is a {GetType().Name}.");
            return problems;
        }
        var config = Configuration();
        foreach (var pair in config)
        {
            string what = Describe(pair.Key);
            if (!meta.TryGetValue(pair.Key, out string? saved))
                problems.Add($"the file's {type} has no {what}; the given optimizer has {pair.Value}.");
            else if (saved != pair.Value)
                problems.Add($"the {what} differs: {saved} in the file, {pair.Value} in the given optimizer.");
        }
        foreach (var pair in meta)
            if (pair.Key.StartsWith(MetadataPrefix + ".hp.", StringComparison.Ordinal) && !config.ContainsKey(pair.Key))
                problems.Add($"the file's {type} has {Describe(pair.Key)} = {pair.Value}, which the given optimizer does not know.");
        if (!meta.TryGetValue(MetadataPrefix + ".step", out string? stepText)
            || !int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step))
            problems.Add($"the optimizer step count '{stepText ?? "(missing)"}' is not a non-negative integer.");
        if (!meta.TryGetValue(MetadataPrefix + ".learning_rate", out string? lrText)
            || !float.TryParse(lrText, NumberStyles.Float, CultureInfo.InvariantCulture, out learningRate)
            || !(learningRate >= 0) || float.IsInfinity(learningRate))
            problems.Add($"the optimizer learning rate '{lrText ?? "(missing)"}' is not a finite non-negative number.");
        return problems;
    }

    static string Describe(string key)
    {
        string hp = MetadataPrefix + ".hp.";
        if (key.StartsWith(hp, StringComparison.Ordinal)) return "hyperparameter '" + key.Substring(hp.Length) + "'";
        return key.Substring(MetadataPrefix.Length + 1).Replace('_', ' ');
    }

    /// <summary>The state tensor names (with the prefix) this optimizer reads from a checkpoint.</summary>
    internal IEnumerable<string> StateTensorNames()
    {
        foreach (string name in StateNames) yield return StatePrefix + name;
    }

    /// <summary>Restores checked state: binds to <paramref name="store"/>, sets the step count, learning rate and buffers.</summary>
    internal void ImportState(ParameterStore store, int step, float learningRate, IReadOnlyDictionary<string, float[]> buffers)
    {
        _owner = store;
        StepCount = step;
        LearningRate = learningRate;
        foreach (string name in StateNames) SetStateBuffer(name, buffers[StatePrefix + name]);
    }

    /// <summary>
    /// The widest vector the update loops may use, in bits (512, 256 or 0 for scalar only). Tests lower it to run
    /// each path; every path computes the same values bit for bit (no fused multiply-add anywhere).
    /// </summary>
    internal static int MaxVectorBits { get; set; } = 512;

    internal static bool UseVector512 => MaxVectorBits >= 512 && Vector512.IsHardwareAccelerated;

    internal static bool UseVector256 => MaxVectorBits >= 256 && Vector256.IsHardwareAccelerated;

    /// <summary>
    /// Checks that <paramref name="parameters"/> is the store this optimizer's state belongs to (binding it on the
    /// first call) and returns whether this is the first step.
    /// </summary>
    protected bool Bind(ParameterStore parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_owner == null)
        {
            _owner = parameters;
            return true;
        }
        if (!ReferenceEquals(_owner, parameters))
            throw new InvalidOperationException(
                $"This {GetType().Name} already holds state for another model's parameters; create one optimizer per model.");
        return false;
    }

    /// <summary>
    /// Scales <paramref name="gradients"/> in place by <c>min(1, maxNorm / (norm + 1e-6))</c> and returns the norm
    /// before scaling (PyTorch's <c>clip_grad_norm_</c>).
    /// </summary>
    internal static double ClipByGlobalNorm(Span<float> gradients, float maxNorm)
    {
        double norm = GlobalNorm(gradients);
        Clip(gradients, norm, maxNorm);
        return norm;
    }

    /// <summary>The L2 norm of <paramref name="gradients"/>, in double.</summary>
    static double GlobalNorm(ReadOnlySpan<float> gradients) => Math.Sqrt(SumOfSquares(gradients));

    /// <summary>Scales <paramref name="gradients"/>, whose norm is <paramref name="norm"/>, to a norm of at most <paramref name="maxNorm"/>.</summary>
    static void Clip(Span<float> gradients, double norm, float maxNorm)
    {
        // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1, computed in the gradients' dtype.
        float coef = (float)(maxNorm / (norm + 1e-6));
        if (!(coef >= 1f)) Scale(gradients, coef);   // NaN (a NaN norm) scales too, as in PyTorch
    }

    /// <summary>Number of double accumulators; element i always goes to accumulator i mod Lanes.</summary>
    const int Lanes = 16;

    /// <summary>
    /// The sum of squares of <paramref name="x"/> in double. Element <c>i</c> is squared exactly in double and added to
    /// accumulator <c>i mod 16</c> in index order on every path, and the 16 accumulators are added in a fixed order, so
    /// the 512-bit, 256-bit and scalar paths give the same bits.
    /// </summary>
    internal static double SumOfSquares(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        Span<double> acc = stackalloc double[Lanes];
        acc.Clear();
        ref double ar = ref MemoryMarshal.GetReference(acc);
        int i = 0;
        if (UseVector512)
        {
            var a0 = Vector512<double>.Zero; var a1 = Vector512<double>.Zero;
            for (; i <= n - Lanes; i += Lanes)
            {
                var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
                var lo = Vector512.WidenLower(v); var hi = Vector512.WidenUpper(v);
                a0 += lo * lo;
                a1 += hi * hi;
            }
            a0.StoreUnsafe(ref ar, 0);
            a1.StoreUnsafe(ref ar, 8);
        }
        else if (UseVector256)
        {
            var a0 = Vector256<double>.Zero; var a1 = Vector256<double>.Zero;
            var a2 = Vector256<double>.Zero; var a3 = Vector256<double>.Zero;
            for (; i <= n - Lanes; i += Lanes)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var w = Vector256.LoadUnsafe(ref xr, (nuint)(i + 8));
                var l0 = Vector256.WidenLower(v); var l1 = Vector256.WidenUpper(v);
                var l2 = Vector256.WidenLower(w); var l3 = Vector256.WidenUpper(w);
                a0 += l0 * l0;
                a1 += l1 * l1;
                a2 += l2 * l2;
                a3 += l3 * l3;
            }
            a0.StoreUnsafe(ref ar, 0);
            a1.StoreUnsafe(ref ar, 4);
            a2.StoreUnsafe(ref ar, 8);
            a3.StoreUnsafe(ref ar, 12);
        }
        for (; i < n; i++)
        {
            double d = Unsafe.Add(ref xr, i);
            Unsafe.Add(ref ar, i & (Lanes - 1)) += d * d;
        }
        double sum = 0;
        for (int l = 0; l < Lanes; l++) sum += acc[l];
        return sum;
    }

    /// <summary>Multiplies every element of <paramref name="x"/> by <paramref name="factor"/> (in float).</summary>
    internal static void Scale(Span<float> x, float factor)
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        int i = 0;
        if (UseVector512)
        {
            var f = Vector512.Create(factor);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                (Vector512.LoadUnsafe(ref xr, (nuint)i) * f).StoreUnsafe(ref xr, (nuint)i);
        }
        if (UseVector256)
        {
            var f = Vector256.Create(factor);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref xr, (nuint)i) * f).StoreUnsafe(ref xr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref xr, i) *= factor;
    }
}
