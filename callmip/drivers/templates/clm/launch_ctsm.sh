#!/bin/bash
# Rendered by callmip-global for run ${run_id}: configure the CTSM case for this segment and
# launch cesm.exe directly in the run directory (no ./case.submit: the orchestrator's scheduler
# is the batch system). Every value below was validated and shell-quoted when rendered.
set -euo pipefail
cd ${case_dir}
cp ${user_nl_clm} user_nl_clm
./xmlchange RUN_TYPE=startup,RUN_STARTDATE=${year_start}-01-01,STOP_OPTION=nyears,STOP_N=${n_years}
./xmlchange RUNDIR=${rundir},DOUT_S=FALSE,CONTINUE_RUN=FALSE,REST_OPTION=end
./xmlchange DATM_YR_ALIGN=${year_start},DATM_YR_START=${forcing_start},DATM_YR_END=${forcing_end}
${co2_setting}
./preview_namelists
./check_input_data
cd ${rundir}
exec ${mpirun} -np ${mpi_tasks} ${exeroot}/cesm.exe
