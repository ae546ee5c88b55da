using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace ModelGen;

/// <summary>
/// The base of every <c>[Model]</c> class (the generator adds it): parameters in one arena, and training,
/// evaluation, prediction and checkpoints on top of the compiled program. <c>Predict</c> and <c>Evaluate</c> may run
/// on any number of threads at once (each call rents a program of its own); <c>Fit</c> and <c>To</c>, which change what
/// they read, run alone: called while another of these runs on the model on another thread, they are refused with an
/// <see cref="InvalidOperationException"/>, and so are <c>Predict</c> and <c>Evaluate</c> while <c>Fit</c> runs (except from
/// its callbacks, on its own thread). <c>Load</c> and <c>Save</c> are not checked: do not call them during <c>Fit</c>.
/// </summary>
public abstract class ModelBase
{
    CompiledProgram? _trainProgram;
    ProgramPool? _inference;
    DeviceSession? _session;
    // Who uses the model now: n > 0 Predict/Evaluate calls, or −1 while Fit or To runs on thread _exclusiveThread.
    int _users;
    int _exclusiveThread;
    string _exclusiveCall = "";

    /// <summary>Called by the generated constructor.</summary>
    protected ModelBase(ModelDescription description, int seed)
    {
        Description = description;
        Parameters = new ParameterStore(description.Parameters, seed);
    }

    /// <summary>What the generator knows about this model.</summary>
    public ModelDescription Description { get; }

    /// <summary>The parameters, in one arena, with their gradients.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>
    /// The eager mode of this model's layers (training or evaluation, and the seed and step of eager dropout). It only
    /// affects calling the model's own [Forward] method directly; Fit, Evaluate and Predict run the compiled program,
    /// which trains in its training step and infers with running statistics and no dropout whatever this says.
    /// </summary>
    public ExecutionMode Mode => ExecutionMode.Of(Parameters);

    /// <summary>Eager training mode (the default), as PyTorch's <c>model.train()</c>: dropout drops, batch normalization uses and updates batch statistics.</summary>
    public void Train() => Mode.Training = true;

    /// <summary>Eager evaluation mode, as PyTorch's <c>model.eval()</c>: dropout is the identity, batch normalization uses running statistics.</summary>
    public void Eval() => Mode.Training = false;

    /// <summary>Creates the generated CPU program for batches of up to <paramref name="maxBatch"/> samples.</summary>
    public abstract CompiledProgram CreateProgram(int maxBatch);

    /// <summary>
    /// Creates the generated program for a GPU session. The generator overrides this when the project that declares the
    /// model references the GPU backend (<c>ModelGen.Runtime.Gpu</c>); otherwise there is no GPU code to run.
    /// </summary>
    public virtual CompiledProgram CreateDeviceProgram(DeviceSession session, int maxBatch) =>
        throw new DeviceException($"{Description.Name} has no GPU code: the project that declares it does not reference ModelGen.Runtime.Gpu, so the generator wrote only its CPU program.");

    /// <summary>The device the model runs on (<see cref="Device.Cpu"/> until <see cref="To"/> moves it).</summary>
    public Device Device => _session?.Device ?? Device.Cpu;

    /// <summary>
    /// Moves the model to <paramref name="device"/>, as PyTorch's <c>model.to(device)</c>: its parameters (and, once they
    /// step there, its optimizers' state) live on the device, and <see cref="Fit"/>, <see cref="Evaluate"/>,
    /// <see cref="Predict"/>, <see cref="Save(string)"/> and <see cref="Load(string, bool)"/> run there. Checkpoints are the same
    /// files on every device. Moving back to the CPU copies everything back. Returns the model.
    /// </summary>
    public ModelBase To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (ReferenceEquals(device, Device)) return this;
        EnterAlone("To");
        try
        {
            DeviceSession? next = device.IsGpu ? Device.RequireBackend().CreateSession(device, Parameters) : null;
            if (_session != null)
            {
                // The parameters come back first, so that the new device starts from what the old one trained.
                _session.Download();
                if (next != null) next.Upload();
                _session.Dispose();
            }
            _session = next;
            _trainProgram?.Dispose();
            _trainProgram = null;
            _inference?.Dispose();
            _inference = null;
        }
        finally
        {
            LeaveAlone();
        }
        return this;
    }

    int InputLength => Tensor.ShapeLength(Description.InputShape);

    int OutputLength => Tensor.ShapeLength(Description.OutputShape);

    /// <summary>
    /// Trains the model: each epoch shuffles <paramref name="train"/> with a permutation that depends only on
    /// <paramref name="seed"/> and the epoch, runs the compiled training step on every batch (the last one holds the
    /// remainder) followed by <paramref name="optimizer"/>, then evaluates <paramref name="validation"/> when given.
    /// Deterministic for a given seed, initial parameters and optimizer. The steady-state step allocates nothing.
    /// A last batch smaller than <see cref="ModelDescription.MinTrainingBatch"/> (one sample, under batch normalization
    /// over one value per channel) is left out of the epoch (<see cref="EpochResult.SamplesLeftOut"/>).
    /// </summary>
    /// <exception cref="NotFiniteNumberException">
    /// A step's loss, or the gradient norm measured for <see cref="Optimizer.ClipGradientNorm"/>, is NaN or infinite. The
    /// message names the epoch, the step, the value, whether the step was applied (not on the CPU; on a GPU it has run
    /// before the loss is read) and the first non-finite feature or target of <paramref name="train"/>, if any.
    /// </exception>
    /// <param name="train">The training samples, whose sample shape is the model's input shape.</param>
    /// <param name="epochs">Epochs to run (0 runs none).</param>
    /// <param name="batchSize">Samples per step.</param>
    /// <param name="optimizer">The optimizer; <c>new AdamW(1e-3f)</c> when null.</param>
    /// <param name="validation">Samples evaluated after each epoch, or null.</param>
    /// <param name="seed">The shuffling seed.</param>
    /// <param name="callbacks">Hooks called around epochs (early stopping, checkpoints, ...).</param>
    /// <param name="verbose">Whether to print progress on the console.</param>
    /// <param name="initialEpoch">
    /// The epoch (from 0) to start at, as Keras's <c>initial_epoch</c>: runs epochs <paramref name="initialEpoch"/> to
    /// <paramref name="epochs"/> - 1, numbered and shuffled as in an uninterrupted run. To resume exactly, first
    /// <see cref="Load(string, Optimizer, bool)"/> a checkpoint written after epoch <paramref name="initialEpoch"/> with its optimizer.
    /// </param>
    /// <remarks>
    /// The randomness of training steps (dropout) is drawn from (<paramref name="seed"/>, step number), and the step
    /// number starts at the optimizer's <see cref="Optimizer.StepCount"/>; with the shuffling a function of
    /// (<paramref name="seed"/>, epoch), a run resumed from a checkpoint with its optimizer state repeats the
    /// uninterrupted run bit for bit.
    /// </remarks>
    public History Fit(Dataset train, int epochs, int batchSize = 32, Optimizer? optimizer = null, Dataset? validation = null,
        int seed = 0, IReadOnlyList<Callback>? callbacks = null, bool verbose = true, int initialEpoch = 0)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Epochs must be at least 0, not {epochs}.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"The batch size must be at least 1, not {batchSize}.");
        if (initialEpoch < 0) throw new ArgumentOutOfRangeException(nameof(initialEpoch), $"The initial epoch must be at least 0, not {initialEpoch}.");
        CheckDataset(train, nameof(train));
        if (train.Count == 0) throw new ArgumentException("The training set has no samples.", nameof(train));
        if (validation != null) CheckDataset(validation, nameof(validation));
        callbacks ??= Array.Empty<Callback>();
        for (int c = 0; c < callbacks.Count; c++)
            if (callbacks[c] == null) throw new ArgumentException($"Callback {c} is null.", nameof(callbacks));
        optimizer ??= new AdamW(1e-3f);
        EnterAlone("Fit");
        try
        {
            return FitAlone(train, epochs, batchSize, optimizer, validation, seed, callbacks, verbose, initialEpoch);
        }
        finally
        {
            LeaveAlone();
        }
    }

    History FitAlone(Dataset train, int epochs, int batchSize, Optimizer optimizer, Dataset? validation, int seed,
        IReadOnlyList<Callback> callbacks, bool verbose, int initialEpoch)
    {
        var loader = new BatchLoader(train, batchSize, shuffle: true, seed);
        int batches = TrainingBatches(loader, train.Count, out int leftOut);
        var program = TrainProgram(loader.BatchSize);
        program.Seed = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + 1); // dropout masks follow the run's seed
        program.SetSteps(optimizer.StepCount);                              // ... and the optimizer's step, so a resumed run continues them
        bool classify = Description.Target == TargetKind.Labels;
        int outputLength = OutputLength;
        var output = new float[checked(loader.BatchSize * outputLength)];
        var history = new History(Math.Clamp(epochs - initialEpoch, 0, 1024));
        var progress = verbose ? new Progress() : null;

        for (int c = 0; c < callbacks.Count; c++)
        {
            callbacks[c].Model = this;
            callbacks[c].Optimizer = optimizer;
            callbacks[c].StopTraining = false;
            callbacks[c].OnTrainBegin();
        }

        for (int epoch = initialEpoch; epoch < epochs; epoch++)
        {
            long epochStart = Stopwatch.GetTimestamp();
            loader.StartEpoch(epoch);
            double lossSum = 0;
            long correct = 0, seen = 0;
            // Each step is begun, then the next batch is gathered, then the step is finished: on a GPU the host gathers
            // batch b + 1 while the device runs step b (on the CPU the step runs whole when it begins).
            int queued = 0;
            for (int b = 0; b < batches; b++)
            {
                int n = loader.Load(b);
                if (queued > 0) Finish(b);
                program.BeginTrainBatch(loader.Input, loader.Labels, loader.Targets, n, optimizer, classify, output.AsSpan(0, n * outputLength));
                queued = n;
            }
            if (queued > 0) Finish(batches);

            void Finish(int done)
            {
                float loss = program.EndTrainBatch(out long right);
                if (!float.IsFinite(loss) || !program.StepApplied) throw NotFinite(train, program, optimizer, loss, epoch + 1, done, batches);
                lossSum += (double)loss * queued;
                seen += queued;
                correct += right;
                progress?.Batch(epoch + 1, epochs, done, batches, lossSum / seen,
                    seen / Stopwatch.GetElapsedTime(epochStart).TotalSeconds);
            }
            double trainSeconds = Stopwatch.GetElapsedTime(epochStart).TotalSeconds;
            Evaluation? val = validation != null && validation.Count > 0 ? Evaluate(validation) : null;
            var result = new EpochResult(epoch + 1, epochs, lossSum / seen, classify ? (double)correct / seen : null,
                val?.Loss, val?.Accuracy, trainSeconds > 0 ? seen / trainSeconds : 0, Stopwatch.GetElapsedTime(epochStart), leftOut);
            history.Add(result);
            progress?.Epoch(result);
            bool stop = false;
            for (int c = 0; c < callbacks.Count; c++)
            {
                callbacks[c].OnEpochEnd(result);
                stop |= callbacks[c].StopTraining;
            }
            if (stop)
            {
                history.StoppedEarly = epoch + 1 < epochs;
                break;
            }
        }

        if (_session != null)
        {
            // The trained parameters, and the optimizer's state and last gradient norm, come back to the host.
            _session.Download();
            _session.DownloadOptimizer(optimizer);
        }
        for (int c = 0; c < callbacks.Count; c++) callbacks[c].OnTrainEnd(history);
        return history;
    }

    /// <summary>
    /// The batches of an epoch that <c>Fit</c> trains on: all of them, but a last batch smaller than the model's
    /// <see cref="ModelDescription.MinTrainingBatch"/> (one sample, with batch normalization over one value per channel),
    /// whose <paramref name="leftOut"/> samples are left out of the epoch (the shuffle leaves out another one each epoch).
    /// Throws when every batch is that small.
    /// </summary>
    int TrainingBatches(BatchLoader loader, int count, out int leftOut)
    {
        int min = Description.MinTrainingBatch;
        if (loader.BatchSize < min)
            throw new ArgumentException(
                $"{Description.Name} has batch normalization over one value per channel, which needs at least {min} samples per training batch, " +
                (count < min ? $"but the training set has {count} sample{(count == 1 ? "" : "s")}." : $"so the batch size cannot be {loader.BatchSize}."),
                count < min ? "train" : "batchSize");
        int last = count - (loader.BatchCount - 1) * loader.BatchSize;
        leftOut = last < min ? last : 0;
        return leftOut > 0 ? loader.BatchCount - 1 : loader.BatchCount;
    }

    /// <summary>
    /// The error of a training step whose loss or gradient norm is not finite: where (epoch and step), what, whether the
    /// parameters took the step, and the first non-finite value of the training set when there is one (searched only now).
    /// </summary>
    NotFiniteNumberException NotFinite(Dataset train, CompiledProgram program, Optimizer optimizer, float loss, int epoch, int step, int steps)
    {
        bool lossBad = !float.IsFinite(loss);
        double value = lossBad ? loss : optimizer.LastGradientNorm ?? double.NaN;
        var text = new System.Text.StringBuilder();
        text.Append($"{Description.Name}.Fit stopped at epoch {epoch}, step {step} of {steps}: ");
        text.Append(lossBad ? $"the training loss is {FormatNonFinite(loss)}. " : $"the global norm of the gradients (measured for clipping) is {FormatNonFinite(value)}. ");
        if (!program.StepApplied)
            text.Append("This step was not applied: the trained parameters and the optimizer state are those after the previous step" +
                (Array.Exists(Description.Parameters, p => !p.Trainable) ? " (state such as batch normalization's running statistics took this step's batch). " : ". "));
        else
            text.Append($"The step ran on {program.Device} before its loss was read, so the parameters took its update and may hold non-finite values now. ");
        text.Append(NonFiniteSample(train) is string where
            ? $"The training data is not finite: {where}."
            : "The training data is finite; a smaller learning rate or gradient clipping (Optimizer.ClipGradientNorm) may keep training stable.");
        return new NotFiniteNumberException(text.ToString(), value);
    }

    /// <summary>NaN, +infinity or -infinity, whatever the culture.</summary>
    static string FormatNonFinite(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+infinity" : "-infinity";

    /// <summary>The first non-finite feature or target of <paramref name="data"/>, described, or null.</summary>
    static string? NonFiniteSample(Dataset data)
    {
        int at = FirstNonFinite(data.Features);
        if (at >= 0) return $"sample {at / data.SampleLength} has feature {at % data.SampleLength} = {FormatNonFinite(data.Features[at])}";
        if (data.Targets != null && (at = FirstNonFinite(data.Targets)) >= 0)
            return $"sample {at / data.TargetLength} has target {at % data.TargetLength} = {FormatNonFinite(data.Targets[at])}";
        return null;
    }

    static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>
    /// Runs the model over <paramref name="data"/> without training, in batches of <paramref name="batchSize"/>, and returns
    /// the loss (the model's own [Loss] on its inference outputs: per batch as the training step computes it, then the
    /// mean over batches weighted by their sample counts, which for a loss that averages over samples is its value on
    /// the whole set), the accuracy, a confusion matrix and <see cref="ClassificationMetrics"/> (top-k accuracy for k up
    /// to 5, per-class precision, recall and F1, macro F1) for a classifier, and the sample count. Safe to call from
    /// several threads at once.
    /// </summary>
    public Evaluation Evaluate(Dataset data, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"The batch size must be at least 1, not {batchSize}.");
        CheckDataset(data, nameof(data));
        int count = data.Count;
        if (count == 0)
            return Description.Target == TargetKind.Labels
                ? new Evaluation(0, double.NaN, new ClassificationMetrics(new int[OutputLength, OutputLength]))
                : new Evaluation(0, double.NaN, null, null);
        int batch = Math.Min(batchSize, count), inLength = InputLength, outLength = OutputLength, targetLength = data.TargetLength;
        bool classify = Description.Target == TargetKind.Labels;
        var confusion = classify ? new int[outLength, outLength] : null;
        var rankCounts = classify ? new long[Math.Min(ClassificationMetrics.DefaultMaxTopK, outLength)] : null;
        double lossSum = 0;
        using (var lease = Lease("Evaluate", batch))
        {
            for (int start = 0; start < count; start += batch)
            {
                int n = Math.Min(batch, count - start);
                var outputs = lease.Output.AsSpan(0, n * outLength);
                var labels = classify ? data.Labels.AsSpan(start, n) : default;
                var targets = classify ? default : data.Targets.AsSpan(start * targetLength, n * targetLength);
                float loss = lease.Program.EvaluateStep(data.Features.AsSpan(start * inLength, n * inLength), labels, targets, n, outputs);
                lossSum += (double)loss * n;
                if (classify)
                    for (int r = 0; r < n; r++)
                        ClassificationMetrics.Accumulate(outputs.Slice(r * outLength, outLength), labels[r], confusion!, rankCounts!);
            }
        }
        return classify
            ? new Evaluation(count, lossSum / count, ClassificationMetrics.FromCounts(confusion!, rankCounts!))
            : new Evaluation(count, lossSum / count, null, null);
    }

    /// <summary>
    /// Runs the inference pass. An input of the model's input shape gives an output of its output shape; a batch
    /// <c>(B, input shape...)</c> gives <c>(B, output shape...)</c>. An input holding NaN or an infinity is refused
    /// (an <see cref="ArgumentException"/> names the sample and the element). Safe to call from several threads at once.
    /// </summary>
    public Tensor Predict(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var inShape = Description.InputShape;
        var shape = input.Shape;
        int batch;
        int[] outShape;
        if (shape.SequenceEqual(inShape))
        {
            batch = 1;
            outShape = (int[])Description.OutputShape.Clone();
        }
        else if (shape.Length == inShape.Length + 1 && shape.Slice(1).SequenceEqual(inShape))
        {
            batch = shape[0];
            outShape = new int[Description.OutputShape.Length + 1];
            outShape[0] = batch;
            Description.OutputShape.CopyTo(outShape, 1);
        }
        else
        {
            throw new ArgumentException(
                $"{Description.Name}.Predict takes one sample of shape {Tensor.FormatShape(inShape)} or a batch of shape (B, {FormatDims(inShape)}), " +
                $"not {Tensor.FormatShape(shape)}.", nameof(input));
        }
        int inLength = InputLength;
        ReadOnlySpan<float> x = input.Data;
        // A NaN or infinite input makes every output it reaches NaN (and the arg-max of NaN scores meaningless): refused.
        int bad = FirstNonFinite(x);
        if (bad >= 0)
            throw new ArgumentException(
                $"{Description.Name}.Predict: {(shape.Length == inShape.Length ? "the input" : $"input sample {bad / inLength}")} has the non-finite value {FormatNonFinite(x[bad])} at element {bad % inLength}.",
                nameof(input));
        var result = new Tensor(outShape);
        if (batch == 0) return result;
        int outLength = OutputLength, step = Math.Min(batch, 256);
        using var lease = Lease("Predict", step);
        Span<float> y = result.Data;
        for (int start = 0; start < batch; start += step)
        {
            int n = Math.Min(step, batch - start);
            lease.Program.Infer(x.Slice(start * inLength, n * inLength), n, y.Slice(start * outLength, n * outLength));
        }
        return result;
    }

    /// <summary>Writes every parameter to a safetensors file (atomically), with the model name in the metadata.</summary>
    public void Save(string path) => Save(path, new Dictionary<string, string>(StringComparer.Ordinal));

    /// <summary>
    /// Writes every parameter as <see cref="Save(string)"/> does, with <paramref name="metadata"/> beside the model name in
    /// the file's metadata: what an application needs to use the model, such as its input normalisation
    /// (<c>["preprocess.mean"] = "0.2860"</c>). Read it back with <see cref="SafeTensors.ReadMetadata(string)"/>. Keys that
    /// start with <c>modelgen.</c> are the runtime's own and are refused.
    /// </summary>
    public void Save(string path, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata)
        {
            if (key.StartsWith("modelgen.", StringComparison.Ordinal))
                throw new ArgumentException($"Metadata key '{key}' starts with 'modelgen.', the prefix the runtime keeps for its own keys.", nameof(metadata));
            all[key] = value ?? throw new ArgumentException($"Metadata key '{key}' has a null value.", nameof(metadata));
        }
        all[SafeTensors.ModelKey] = Description.Name;
        _session?.Download();
        SafeTensors.Save(path, Parameters, all);
    }

    /// <summary>
    /// Writes a resumable checkpoint: every parameter as <see cref="Save(string)"/>, plus <paramref name="optimizer"/>'s
    /// state as flat F32 tensors named <c>optimizer.*</c> (for example <c>optimizer.m</c> and <c>optimizer.v</c> for AdamW,
    /// of the trainable length) and its type, step count, learning rate, hyperparameters, clipping and schedule in the
    /// metadata (keys <c>modelgen.optimizer*</c>). <see cref="Load(string, Optimizer, bool)"/> restores both.
    /// </summary>
    public void Save(string path, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        for (int i = 0; i < Parameters.Count; i++)
            if (Parameters[i].Name.StartsWith(Optimizer.StatePrefix, StringComparison.Ordinal))
                throw new InvalidOperationException(
                    $"Parameter '{Parameters[i].Name}' starts with '{Optimizer.StatePrefix}', the prefix reserved for optimizer state; rename the layer to save optimizer state.");
        if (_session != null)
        {
            _session.Download();
            _session.DownloadOptimizer(optimizer);
        }
        var metadata = optimizer.ExportMetadata();
        metadata[SafeTensors.ModelKey] = Description.Name;
        SafeTensors.Save(path, Parameters, metadata, optimizer.ExportState(Parameters), afterHeader: null);
    }

    /// <summary>
    /// Reads every parameter from a safetensors file. The file is validated against the model first; on any problem
    /// a <see cref="CheckpointException"/> lists them all and the parameters are unchanged. Optimizer state in the file
    /// (from <see cref="Save(string, Optimizer)"/>) is ignored. A file saved by another model class (its
    /// <c>modelgen.model</c> metadata) is refused, naming both classes, even when the names and shapes match, unless
    /// <paramref name="allowOtherModel"/>; a file without that key (from PyTorch, say) loads by names and shapes.
    /// </summary>
    public void Load(string path, bool allowOtherModel = false)
    {
        SafeTensors.Load(path, Parameters, optimizer: null, allowOtherModel ? null : Description.Name);
        _session?.Upload();
    }

    /// <summary>
    /// Reads a resumable checkpoint written by <see cref="Save(string, Optimizer)"/>: the parameters, and
    /// <paramref name="optimizer"/>'s state buffers, step count and learning rate (restored, as PyTorch's
    /// <c>load_state_dict</c> does). The optimizer must be of the same type with the same hyperparameters, gradient
    /// clipping and schedule, and fresh or already bound to this model. Everything is checked first: on any problem a
    /// <see cref="CheckpointException"/> names each difference and neither the model nor the optimizer changes.
    /// Then continue with <c>Fit(..., optimizer: optimizer, initialEpoch: k)</c>. A file of another model class is
    /// refused as by <see cref="Load(string, bool)"/> unless <paramref name="allowOtherModel"/>.
    /// </summary>
    public void Load(string path, Optimizer optimizer, bool allowOtherModel = false)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        SafeTensors.Load(path, Parameters, optimizer, allowOtherModel ? null : Description.Name);
        if (_session != null)
        {
            _session.Upload();
            _session.UploadOptimizer(optimizer);
        }
    }

    /// <summary>A new compiled program on the model's device (see <see cref="To"/>) for batches of up to <paramref name="maxBatch"/>, for loops that drive programs themselves (the char-LM samples, benchmarks, tests).</summary>
    public CompiledProgram NewProgram(int maxBatch) => Create(maxBatch);

    /// <summary>Copies the parameters and gradients from the model's device to the host store (nothing to do on the CPU).</summary>
    internal void SyncFromDevice() => _session?.Download();

    CompiledProgram TrainProgram(int batch)
    {
        if (_trainProgram == null || _trainProgram.MaxBatch < batch)
        {
            _trainProgram?.Dispose();
            _trainProgram = Create(batch);
        }
        return _trainProgram;
    }

    /// <summary>
    /// Starts a Predict or Evaluate call (<paramref name="call"/>) and rents it a program for batches of up to
    /// <paramref name="batch"/> from the pool of the model's device (made on first use; <see cref="To"/> replaces it).
    /// </summary>
    InferenceLease Lease(string call, int batch)
    {
        bool counted = EnterShared(call);
        try
        {
            var pool = Volatile.Read(ref _inference);
            if (pool == null)
            {
                var made = new ProgramPool(Create, OutputLength);
                pool = Interlocked.CompareExchange(ref _inference, made, null) ?? made;
            }
            return new InferenceLease(this, pool, pool.Rent(batch), counted);
        }
        catch
        {
            if (counted) LeaveShared();
            throw;
        }
    }

    /// <summary>A program rented for one Predict or Evaluate call: disposing it gives the program back and ends the call.</summary>
    readonly struct InferenceLease(ModelBase model, ProgramPool pool, ProgramPool.Rented rented, bool counted) : IDisposable
    {
        public CompiledProgram Program => rented.Program;

        public float[] Output => rented.Output;

        public void Dispose()
        {
            pool.Return(rented);
            if (counted) model.LeaveShared();
        }
    }

    /// <summary>
    /// Starts a Predict or Evaluate call (<paramref name="call"/>): refused while Fit or To runs on another thread; on
    /// the thread that runs Fit (a callback) it runs as part of Fit. Returns whether the call was counted (then
    /// <see cref="LeaveShared"/> ends it).
    /// </summary>
    bool EnterShared(string call)
    {
        while (true)
        {
            int users = Volatile.Read(ref _users);
            if (users < 0)
            {
                if (Volatile.Read(ref _exclusiveThread) == Environment.CurrentManagedThreadId) return false;
                throw new InvalidOperationException(
                    $"{Description.Name}.{call} was called while {Description.Name}.{Volatile.Read(ref _exclusiveCall)} runs on another thread; " +
                    $"{call} reads the parameters that call changes: call it after that call returns (or from a Fit callback).");
            }
            if (Interlocked.CompareExchange(ref _users, users + 1, users) == users) return true;
        }
    }

    void LeaveShared() => Interlocked.Decrement(ref _users);

    /// <summary>Starts Fit or To (<paramref name="call"/>), which run alone on the model: refused while anything else runs on it.</summary>
    void EnterAlone(string call)
    {
        int users = Interlocked.CompareExchange(ref _users, -1, 0);
        if (users > 0)
            throw new InvalidOperationException(
                $"{Description.Name}.{call} was called while {users} Predict or Evaluate call{(users == 1 ? "" : "s")} run{(users == 1 ? "s" : "")} on it on other threads; " +
                $"{call} changes the parameters they read, so call it when they have returned.");
        if (users < 0)
        {
            string running = Volatile.Read(ref _exclusiveCall);
            throw new InvalidOperationException(Volatile.Read(ref _exclusiveThread) == Environment.CurrentManagedThreadId
                ? $"{Description.Name}.{call} was called from a callback of {Description.Name}.{running}, which it would disrupt; call it after {running} returns."
                : $"{Description.Name}.{call} was called while {Description.Name}.{running} runs on another thread; one of Fit and To runs at a time on a model.");
        }
        Volatile.Write(ref _exclusiveCall, call);
        Volatile.Write(ref _exclusiveThread, Environment.CurrentManagedThreadId);
    }

    void LeaveAlone()
    {
        Volatile.Write(ref _exclusiveThread, 0);
        Volatile.Write(ref _users, 0);
    }

    CompiledProgram Create(int batch)
    {
        var program = _session == null ? CreateProgram(batch) : CreateDeviceProgram(_session, batch);
        if (program == null || program.MaxBatch < batch)
            throw new InvalidOperationException($"{Description.Name}.CreateProgram({batch}) returned a program for at most {program?.MaxBatch ?? 0} samples.");
        return program;
    }

    void CheckDataset(Dataset data, string name)
    {
        if (!data.SampleShape.AsSpan().SequenceEqual(Description.InputShape))
            throw new ArgumentException(
                $"The samples of '{name}' have shape {Tensor.FormatShape(data.SampleShape)} but {Description.Name} takes inputs of shape {Tensor.FormatShape(Description.InputShape)}.", name);
        switch (Description.Target)
        {
            case TargetKind.None:
                throw new InvalidOperationException($"{Description.Name} has no [Loss] method, so it can predict but not train or evaluate.");
            case TargetKind.Labels:
                if (data.Labels == null)
                    throw new ArgumentException($"{Description.Name} is trained with class labels (its loss takes Labels) but '{name}' has float targets and no labels.", name);
                if (Description.OutputShape.Length != 1)
                    throw new InvalidOperationException($"{Description.Name} takes class labels but its output shape {Tensor.FormatShape(Description.OutputShape)} is not a vector of class scores.");
                if (data.ClassCount > OutputLength)
                    throw new ArgumentException($"'{name}' has {data.ClassCount} classes but {Description.Name} outputs {OutputLength} class scores.", name);
                break;
            case TargetKind.Tensor:
                if (data.Targets == null)
                    throw new ArgumentException($"{Description.Name} is trained with tensor targets (its loss takes a Tensor) but '{name}' has class labels and no targets.", name);
                if (!data.TargetShape.AsSpan().SequenceEqual(Description.OutputShape))
                    throw new ArgumentException(
                        $"The targets of '{name}' have shape {Tensor.FormatShape(data.TargetShape!)} but {Description.Name} outputs shape {Tensor.FormatShape(Description.OutputShape)}.", name);
                break;
        }
    }

    static string FormatDims(int[] shape)
    {
        string s = Tensor.FormatShape(shape);
        return s.Substring(1, s.Length - 2);
    }

    internal static long CountCorrect(ReadOnlySpan<float> outputs, ReadOnlySpan<int> labels, int rows, int classes)
    {
        long correct = 0;
        for (int r = 0; r < rows; r++)
            if (ArgMax(outputs.Slice(r * classes, classes)) == labels[r]) correct++;
        return correct;
    }

    /// <summary>Index of the first largest element (NaN never wins).</summary>
    internal static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }
}
